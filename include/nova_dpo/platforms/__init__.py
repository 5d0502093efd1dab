"""Platforms that run the pipeline's jobs: SageMaker (production) and local (embedded, no cloud)."""
