"""The plugin framework: the contract, the context and its helpers, loading and running.

Plugins import from here: `from ltsp_client.pluginkit import Plugin, PluginContext, Param`.
"""

from ltsp_client.config.params import Param
from ltsp_client.pluginkit.base import Plugin
from ltsp_client.pluginkit.context import PluginContext, StaticFacts
from ltsp_client.pluginkit.expand import Facts

__all__ = ["Facts", "Param", "Plugin", "PluginContext", "StaticFacts"]
