"""The resurfacing radar: banned hashtags coming back as variants, and the new tags a trend
moves to. `radar.match` is pure (no warehouse); warehouse/resurfacing.py stores and reads
what it finds, and the CLI, the DAG and the web app are thin layers over both."""
