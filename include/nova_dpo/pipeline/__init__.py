"""The pipeline: its params, the run plan, and the step functions its tasks call."""
