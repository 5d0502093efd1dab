"""The sub-commands of ``nova-dpo`` (:mod:`nova_dpo.cli`), one module per area of the project.

Command-line modules are the top layer of the package (docs/architecture.md): each may import any area it
drives, and nothing but the CLI imports them, so the areas stay plain libraries that the Airflow tasks call.
"""
