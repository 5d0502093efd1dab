"""Hooks: thin AWS client wrappers that add what apache-airflow-providers-amazon lacks."""
