"""Review and takedown tracking: cases, their states and events, evidence, reports,
platform answers, re-checks, users and escalation packs.

The CLI (tagwatch/commands/) and the web app (webapp/) are thin layers over this package.
"""
