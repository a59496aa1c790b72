"""The bottom floor: small helpers every room may import (it imports none of them)."""
