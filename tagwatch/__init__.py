"""tagwatch: hashtag and trend monitoring that protects school staff from online abuse."""
from tagwatch.config import VERSION as __version__  # noqa: F401
