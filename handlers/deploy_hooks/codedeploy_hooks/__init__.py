"""CodeDeploy lifecycle hooks for an ECS blue/green deployment.

One Lambda zip, five handlers (one module each), all run by :mod:`codedeploy_hooks.runner`,
which reports the outcome to CodeDeploy with ``PutLifecycleEventHookExecutionStatus``:

==========================  ==========================================================
Lifecycle event             Handler
==========================  ==========================================================
BeforeInstall               ``codedeploy_hooks.validate_before_install.handler``
AfterInstall                ``codedeploy_hooks.validate_deployment.handler``
AfterAllowTestTraffic       ``codedeploy_hooks.validate_test_traffic.handler``
BeforeAllowTraffic          ``codedeploy_hooks.run_migrations.handler``
AfterAllowTraffic           ``codedeploy_hooks.validate_production.handler``
==========================  ==========================================================

Configuration comes from environment variables, documented in :mod:`codedeploy_hooks.config`.
"""
