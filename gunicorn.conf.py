"""gunicorn reads this when started from the repository: the package's settings."""

from downloads_portal.gunicorn_conf import *  # noqa: F403
