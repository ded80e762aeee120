-- Review and re-review (复查, 复核) clocks: 30 days to ask after the written answer, 30 days to decide.
ALTER TABLE cases ADD COLUMN answered_on TEXT;
ALTER TABLE cases ADD COLUMN review_requested_on TEXT;
ALTER TABLE cases ADD COLUMN review_decided_on TEXT;
ALTER TABLE cases ADD COLUMN rereview_requested_on TEXT;
