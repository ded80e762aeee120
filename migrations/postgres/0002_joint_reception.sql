-- A joint reception (联合接访): a second higher court takes part as co-host.
ALTER TABLE bookings ADD COLUMN joint_court_id BIGINT REFERENCES courts (id);
