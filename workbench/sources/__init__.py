"""Where inputs come from: local files and folders (`local`), Salesforce downloads (`salesforce`).
A source finds or fetches files and hands `workbench.store.inputs` inputs to the store's ingest."""
