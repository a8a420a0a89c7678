-- Back-check: setup audit trail rows in the window ($start, $end): when, who, action, section, display, delegate.
SELECT org_id, created_date, created_by, action, section, display, delegate_user, record_id
  FROM setup_audit_trail
 WHERE created_date >= $start AND created_date < $end
 ORDER BY created_date, record_key;
