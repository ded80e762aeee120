-- Issue 16, "directories": each court keeps its contact person (联系人) and its technical-support
-- person (技术保障人员), each a name and a phone number, shown on bookings, appointment notices
-- and failed connectivity tests. Until now they hung on a connectivity campaign
-- (`connectivity_contacts`); a court without a directory row still shows the persons it last
-- recorded there. Phones are sealed at rest as identity numbers are (`v1:` + ChaCha20-Poly1305,
-- privacy.data_key); a person is either wholly present (name and phone) or absent.
CREATE TABLE court_directories (
    court_id INTEGER PRIMARY KEY REFERENCES courts (id),
    contact_name TEXT,
    contact_phone_sealed TEXT,
    tech_name TEXT,
    tech_phone_sealed TEXT,
    updated_by INTEGER NOT NULL REFERENCES users (id),
    updated_at TEXT NOT NULL,
    CHECK ((contact_name IS NULL) = (contact_phone_sealed IS NULL)),
    CHECK ((tech_name IS NULL) = (tech_phone_sealed IS NULL))
);
