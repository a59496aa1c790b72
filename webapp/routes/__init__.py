"""The app's pages, one router per area."""
