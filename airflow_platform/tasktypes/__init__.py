"""Platform task types: named, parameterised tasks the platform team defines in the config.

``model`` declares them (the ``task_types:`` section of the platform config), ``calls``
checks a spec task's ``operator_type:`` and ``with:`` against them and turns the task into the
job that runs the type's image and command, and ``pg_to_csv`` and ``pg_execute`` are the
programs behind the types the packaged default config ships.
"""
