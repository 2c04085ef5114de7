"""Applets above both config and the plugins (`ltsp config` knows every plugin's params)."""
