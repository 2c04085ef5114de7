"""`ltsp login`: server users log in with their server password over SSH; homes over SSHFS."""
