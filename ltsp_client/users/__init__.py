"""Accounts: the passwd/group/shadow files, the server-account merge, autologin."""
