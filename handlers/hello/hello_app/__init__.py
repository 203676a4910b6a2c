"""The ``hello`` blueprint: the smallest useful zip function, behind a Function URL."""
