"""Sample data: the labelled scenario library (see `workbench.sample.scenarios`)."""
