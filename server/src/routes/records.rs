//! What higher courts see: session logs with filters, and statistics per court and period.

use actix_web::web;

pub fn configure(_cfg: &mut web::ServiceConfig) {}
