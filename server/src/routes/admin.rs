//! Administration: the courts, rooms and staff accounts of the administrator's court and every
//! court below it (its scope). Only the `admin` role; every change is audited in the same
//! transaction that makes it (see `store::admin`).
//!
//! Nothing here deletes: rooms and accounts are referenced by bookings, sessions and the audit
//! log, so an account is disabled rather than removed, and a room is renamed rather than dropped.
//! A disabled account cannot log in or refresh its token; a token it already holds runs out at
//! its expiry (`auth.staff_token_minutes`).

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::views::{CourtView, RoomView};
use crate::app::scope::Scope;
use crate::auth::{Staff, hash_password};
use crate::domain::{CourtLevel, Role, UserId};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::store::admin::{NewAccount, RoomType, Saved, UserChange, locked_now};
use crate::store::{StoreError, UserRow};
pub use courtlink_parsers::bodies::{
    NewCourt, NewRoom, NewUserRequest, PasswordReset, Rename, UserUpdate,
};
use courtlink_parsers::names::{display_name_field, name_field, username_input};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_courts)
        .service(create_court)
        .service(rename_court)
        .service(create_room)
        .service(rename_room)
        .service(list_users)
        .service(create_user)
        .service(update_user)
        .service(reset_password);
}

// --- scope and input ---------------------------------------------------------------------------

fn actor(staff: &Staff) -> String {
    format!("user-{}", staff.user_id)
}

fn admin_only(staff: &Staff) -> Result<(), ApiError> {
    staff.require(&[Role::Admin])
}

/// A user the administrator may manage: 404 when there is none, 403 when outside its scope.
async fn managed_user(state: &AppState, staff: &Staff, id: UserId) -> Result<UserRow, ApiError> {
    let user = match state.store.user_by_id(id).await {
        Ok(u) => u,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("user")),
        Err(e) => return Err(e.into()),
    };
    Scope::of(&state.store, staff)
        .managed_court(user.court_id, ApiError::NotFound("user"))
        .await?;
    Ok(user)
}

async fn hash(state: &AppState, password: String) -> Result<String, ApiError> {
    state
        .guards
        .passwords
        .run(move || hash_password(&password))
        .await?
        .map_err(ApiError::Internal)
}

fn rank(level: CourtLevel) -> u8 {
    match level {
        CourtLevel::Supreme => 0,
        CourtLevel::High => 1,
        CourtLevel::Intermediate => 2,
        CourtLevel::Basic => 3,
    }
}

fn taken(what: ErrorCode, message: &str) -> ApiError {
    ApiError::conflict(what, message.to_owned())
}

// --- courts and rooms ---------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct AdminCourt {
    pub id: i64,
    pub name: String,
    pub level: CourtLevel,
    /// The court directly above; none for the top of the administrator's scope's tree.
    pub parent_id: Option<i64>,
    /// Reception rooms where this court's judges host sessions (接谈室).
    pub host_rooms: Vec<RoomView>,
    /// Video rooms where this court's petitioners sit (接访室).
    pub local_rooms: Vec<RoomView>,
}

/// The administrator's court and every court below it, top down, with their rooms.
#[utoipa::path(
    get,
    path = "/api/v1/admin/courts",
    responses((status = 200, body = [AdminCourt]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "admin"
)]
#[get("/admin/courts")]
#[tracing::instrument(skip_all, fields(user = staff.user_id.get()))]
pub async fn list_courts(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    admin_only(&staff)?;
    let courts = state.store.courts_under(staff.court_id).await?;
    let rooms = state.store.rooms_under(staff.court_id).await?;
    let mut out = Vec::with_capacity(courts.len());
    for c in courts {
        let level = c.level;
        let of = |kind: &str| {
            rooms
                .iter()
                .filter(|r| r.court_id == c.id && r.kind == kind)
                .map(|r| RoomView {
                    id: r.id,
                    name: r.name.clone(),
                })
                .collect::<Vec<_>>()
        };
        out.push(AdminCourt {
            host_rooms: of("host"),
            local_rooms: of("local"),
            id: c.id,
            name: c.name,
            level,
            parent_id: c.parent_id,
        });
    }
    Ok(HttpResponse::Ok().json(out))
}

/// A new court below the administrator's court or one below it.
#[utoipa::path(
    post,
    path = "/api/v1/admin/courts",
    request_body = NewCourt,
    responses(
        (status = 201, body = AdminCourt),
        (status = 401, body = ErrorBody),
        (status = 403, description = "forbidden: not an admin, or the parent is outside your scope", body = ErrorBody),
        (status = 409, description = "court_name_taken", body = ErrorBody),
        (status = 422, description = "invalid_name: a control, bidi-override or zero-width character in a name; invalid_input: bad name, unknown parent, level not below the parent's", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "admin"
)]
#[post("/admin/courts")]
#[tracing::instrument(skip_all, fields(user = staff.user_id.get()))]
pub async fn create_court(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Json<NewCourt>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&staff)?;
    let name = name_field("name", &body.name)?;
    let parent = Scope::of(&state.store, &staff)
        .managed_court(
            body.parent_id,
            ApiError::invalid(format!("parent_id: no court has id {}", body.parent_id)),
        )
        .await?;
    if rank(body.level) <= rank(parent.level) {
        return Err(ApiError::invalid(format!(
            "level: a court below a {} court must be of a lower level",
            parent.level
        )));
    }
    let id = match state
        .store
        .admin_create_court(&name, body.level.as_str(), parent.id, &actor(&staff))
        .await?
    {
        Saved::Done(id) => id,
        Saved::Taken => {
            return Err(taken(
                ErrorCode::CourtNameTaken,
                "another court already has this name",
            ));
        }
    };
    tracing::info!(court = id, "court created");
    Ok(HttpResponse::Created().json(AdminCourt {
        id,
        name,
        level: body.level,
        parent_id: Some(parent.id),
        host_rooms: Vec::new(),
        local_rooms: Vec::new(),
    }))
}

/// Renames a court within the administrator's scope.
#[utoipa::path(
    patch,
    path = "/api/v1/admin/courts/{id}",
    params(("id" = i64, Path, description = "court id")),
    request_body = Rename,
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "court_name_taken", body = ErrorBody),
        (status = 422, description = "invalid_input; invalid_name: a control, bidi-override or zero-width character in a name", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "admin"
)]
#[patch("/admin/courts/{id}")]
#[tracing::instrument(skip_all, fields(user = staff.user_id.get()))]
pub async fn rename_court(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    body: web::Json<Rename>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&staff)?;
    let court = Scope::of(&state.store, &staff)
        .managed_court(*id, ApiError::NotFound("court"))
        .await?;
    let name = name_field("name", &body.name)?;
    match state
        .store
        .admin_rename_court(court.id, &name, &actor(&staff))
        .await?
    {
        Saved::Done(()) => Ok(HttpResponse::NoContent().finish()),
        Saved::Taken => Err(taken(
            ErrorCode::CourtNameTaken,
            "another court already has this name",
        )),
    }
}

#[derive(Serialize, ToSchema)]
pub struct AdminRoom {
    pub id: i64,
    pub court_id: i64,
    pub kind: RoomType,
    pub name: String,
}

/// A new host or local room in a court within the administrator's scope.
#[utoipa::path(
    post,
    path = "/api/v1/admin/courts/{id}/rooms",
    params(("id" = i64, Path, description = "court id")),
    request_body = NewRoom,
    responses(
        (status = 201, body = AdminRoom),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "room_name_taken", body = ErrorBody),
        (status = 422, description = "invalid_name: a control, bidi-override or zero-width character in a name; invalid_input: bad name, or a host room at a basic court", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "admin"
)]
#[post("/admin/courts/{id}/rooms")]
#[tracing::instrument(skip_all, fields(user = staff.user_id.get()))]
pub async fn create_room(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    body: web::Json<NewRoom>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&staff)?;
    let court = Scope::of(&state.store, &staff)
        .managed_court(*id, ApiError::NotFound("court"))
        .await?;
    let name = name_field("name", &body.name)?;
    if body.kind == RoomType::Host && court.level == CourtLevel::Basic {
        return Err(ApiError::invalid(
            "kind: a basic court hosts no receptions; give it local rooms",
        ));
    }
    match state
        .store
        .admin_create_room(body.kind, court.id, &name, &actor(&staff))
        .await?
    {
        Saved::Done(room) => Ok(HttpResponse::Created().json(AdminRoom {
            id: room,
            court_id: court.id,
            kind: body.kind,
            name,
        })),
        Saved::Taken => Err(taken(
            ErrorCode::RoomNameTaken,
            "this court already has a room of that kind with this name",
        )),
    }
}

/// Renames a room of a court within the administrator's scope.
#[utoipa::path(
    patch,
    path = "/api/v1/admin/rooms/{kind}/{id}",
    params(
        ("kind" = RoomType, Path, description = "host or local"),
        ("id" = i64, Path, description = "room id")
    ),
    request_body = Rename,
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "room_name_taken", body = ErrorBody),
        (status = 422, description = "invalid_input; invalid_name: a control, bidi-override or zero-width character in a name", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "admin"
)]
#[patch("/admin/rooms/{kind}/{id}")]
#[tracing::instrument(skip_all, fields(user = staff.user_id.get()))]
pub async fn rename_room(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(RoomType, i64)>,
    body: web::Json<Rename>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&staff)?;
    let (kind, id) = path.into_inner();
    let Some(room) = state.store.find_room(kind, id).await? else {
        return Err(ApiError::NotFound("room"));
    };
    Scope::of(&state.store, &staff)
        .managed_court(room.court_id, ApiError::NotFound("room"))
        .await?;
    let name = name_field("name", &body.name)?;
    match state
        .store
        .admin_rename_room(kind, room.id, &name, &actor(&staff))
        .await?
    {
        Saved::Done(()) => Ok(HttpResponse::NoContent().finish()),
        Saved::Taken => Err(taken(
            ErrorCode::RoomNameTaken,
            "this court already has a room of that kind with this name",
        )),
    }
}

// --- users -------------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct AdminUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub court: CourtView,
    /// A disabled account cannot log in.
    pub disabled: bool,
    /// Set while the account is locked after repeated failed logins.
    pub locked_until: Option<DateTime<Utc>>,
}

impl From<UserRow> for AdminUser {
    fn from(u: UserRow) -> Self {
        AdminUser {
            role: u.role,
            court: CourtView::new(u.court_id, &u.court_name, u.court_level),
            locked_until: locked_now(u.locked_until),
            id: u.id.get(),
            username: u.username,
            display_name: u.display_name,
            disabled: u.disabled,
        }
    }
}

/// The staff accounts of the administrator's court and every court below it.
#[utoipa::path(
    get,
    path = "/api/v1/admin/users",
    responses((status = 200, body = [AdminUser]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "admin"
)]
#[get("/admin/users")]
#[tracing::instrument(skip_all, fields(user = staff.user_id.get()))]
pub async fn list_users(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    admin_only(&staff)?;
    let users = state
        .store
        .users_under(staff.court_id)
        .await?
        .into_iter()
        .map(AdminUser::from)
        .collect::<Vec<_>>();
    Ok(HttpResponse::Ok().json(users))
}

/// A new staff account in a court within the administrator's scope.
#[utoipa::path(
    post,
    path = "/api/v1/admin/users",
    request_body = NewUserRequest,
    responses(
        (status = 201, body = AdminUser),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "username_taken", body = ErrorBody),
        (status = 422, description = "invalid_name: a control, bidi-override or zero-width character in a name; invalid_input: bad username, name or court, or a password too short", body = ErrorBody),
        (status = 503, description = "busy: this instance's password work is at its bound; try again after Retry-After seconds", body = ErrorBody, headers(("Retry-After" = u64, description = "seconds")))
    ),
    security(("bearer" = [])),
    tag = "admin"
)]
#[post("/admin/users")]
#[tracing::instrument(skip_all, fields(user = staff.user_id.get()))]
pub async fn create_user(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Json<NewUserRequest>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&staff)?;
    let body = body.into_inner();
    let username = username_input(&body.username)?;
    let display_name = display_name_field(&body.display_name)?;
    crate::auth::new_password(&body.password, &[&username, &display_name])?;
    let court = Scope::of(&state.store, &staff)
        .managed_court(
            body.court_id,
            ApiError::invalid(format!("court_id: no court has id {}", body.court_id)),
        )
        .await?;
    let password_hash = hash(&state, body.password).await?;
    let account = NewAccount {
        court_id: court.id,
        username: &username,
        display_name: &display_name,
        role: body.role,
        password_hash: &password_hash,
    };
    let id = match state
        .store
        .admin_create_user(&account, &actor(&staff))
        .await?
    {
        Saved::Done(id) => id,
        Saved::Taken => {
            return Err(taken(
                ErrorCode::UsernameTaken,
                "another account already has this username",
            ));
        }
    };
    tracing::info!(created = id, "user created");
    let user = state.store.user_by_id(UserId(id)).await?;
    Ok(HttpResponse::Created().json(AdminUser::from(user)))
}

/// Changes a user's name or role, or disables or enables the account. An administrator cannot
/// disable its own account or change its own role (`own_account`), so that a court is never
/// left without one by mistake.
#[utoipa::path(
    patch,
    path = "/api/v1/admin/users/{id}",
    params(("id" = i64, Path, description = "user id")),
    request_body = UserUpdate,
    responses(
        (status = 200, body = AdminUser),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "own_account", body = ErrorBody),
        (status = 422, description = "invalid_input; invalid_name: a control, bidi-override or zero-width character in a name", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "admin"
)]
#[patch("/admin/users/{id}")]
#[tracing::instrument(skip_all, fields(user = staff.user_id.get()))]
pub async fn update_user(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<UserId>,
    body: web::Json<UserUpdate>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&staff)?;
    let user = managed_user(&state, &staff, *id).await?;
    let body = body.into_inner();
    if body.display_name.is_none() && body.role.is_none() && body.disabled.is_none() {
        return Err(ApiError::invalid(
            "give at least one of display_name, role, disabled",
        ));
    }
    let display_name = body
        .display_name
        .as_deref()
        .map(display_name_field)
        .transpose()?;
    if user.id == staff.user_id
        && (body.disabled == Some(true) || body.role.is_some_and(|r| r != Role::Admin))
    {
        return Err(ApiError::conflict(
            ErrorCode::OwnAccount,
            "you cannot disable your own account or change your own role; ask another administrator",
        ));
    }
    let change = UserChange {
        display_name: display_name.as_deref(),
        role: body.role,
        disabled: body.disabled,
    };
    state
        .store
        .admin_update_user(user.id, &change, &actor(&staff))
        .await?;
    let user = state.store.user_by_id(user.id).await?;
    Ok(HttpResponse::Ok().json(AdminUser::from(user)))
}

/// Sets a new password for a user and lifts any lockout.
#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{id}/password",
    params(("id" = i64, Path, description = "user id")),
    request_body = PasswordReset,
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "invalid_input: password too short or too long", body = ErrorBody),
        (status = 503, description = "busy: this instance's password work is at its bound; try again after Retry-After seconds", body = ErrorBody, headers(("Retry-After" = u64, description = "seconds")))
    ),
    security(("bearer" = [])),
    tag = "admin"
)]
#[post("/admin/users/{id}/password")]
#[tracing::instrument(skip_all, fields(user = staff.user_id.get()))]
pub async fn reset_password(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<UserId>,
    body: web::Json<PasswordReset>,
) -> Result<HttpResponse, ApiError> {
    admin_only(&staff)?;
    let user = managed_user(&state, &staff, *id).await?;
    let PasswordReset { password } = body.into_inner();
    crate::auth::new_password(&password, &[&user.username, &user.display_name])?;
    let password_hash = hash(&state, password).await?;
    state
        .store
        .admin_reset_password(user.id, &password_hash, &actor(&staff))
        .await?;
    tracing::info!(target_user = user.id.get(), "password reset");
    Ok(HttpResponse::NoContent().finish())
}
