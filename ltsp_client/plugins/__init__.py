"""Built-in plugins, one module per plugin (discovered by ltsp_client.pluginkit.loader)."""
