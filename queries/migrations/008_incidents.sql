-- Incidents: findings on one org and entity that overlap in time, or follow each other within
-- incident_gap(), form one incident. A view, computed on read from the stored findings (suppressed
-- ones included, so suppressing a finding never renumbers incidents): triage, suppressions and
-- re-scans show at once, with no table to refresh and nothing to go stale. The SQL console, the
-- report and the TUI can all join it.

-- Six hours: an attacker's recon, export and clean-up on one night stay one incident (the planted
-- one has bursts minutes to an hour apart), while a job that runs daily (24 h apart) does not chain
-- its days into one endless incident; those repeats collapse into one line when listed instead.
CREATE OR REPLACE MACRO incident_gap() AS INTERVAL 6 HOURS;

-- One row per stored finding: its incident. A new incident starts where a finding begins more than
-- incident_gap() after the furthest end of the entity's earlier findings. The id is stable: a hash
-- of org, entity and the incident's first window start.
CREATE OR REPLACE VIEW finding_incidents AS
WITH ordered AS (
    SELECT id, org_id, entity_type, entity_id, window_start,
           max(window_end) OVER (
               PARTITION BY org_id, entity_type, entity_id ORDER BY window_start, id
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
      FROM findings
), numbered AS (
    SELECT *,
           sum(CASE WHEN reach IS NULL OR window_start > reach + incident_gap() THEN 1 ELSE 0 END) OVER (
               PARTITION BY org_id, entity_type, entity_id ORDER BY window_start, id
               ROWS UNBOUNDED PRECEDING) AS incident_number
      FROM ordered
)
SELECT id AS finding_id, org_id, entity_type, entity_id,
       left(sha256(concat_ws('|', coalesce(org_id, ''), entity_type, entity_id,
            strftime(min(window_start) OVER (PARTITION BY org_id, entity_type, entity_id, incident_number),
                     '%Y-%m-%dT%H:%M:%S.%f'))), 16) AS incident_id
  FROM numbered;
