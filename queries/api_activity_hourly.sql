-- API activity per hour x app x user x IP x object (one event type per org, see api_event_types).
SELECT * EXCLUDE (event_type) FROM api_activity;
