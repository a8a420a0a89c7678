-- Where an org-context export with this content was loaded from, if it was.
SELECT path FROM org_context_files WHERE content_hash = $content_hash;
