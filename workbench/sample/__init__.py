"""Sample data: the deterministic log generator (`generator`), the labelled scenario library
(`scenarios`) and the synthetic enrichment databases the demo uses (`enrichment`)."""
