"""The operator CLI, ``sdb-backup-export`` (the optional ``[cli]`` extra: Typer and rich; never in
the functions' zip)."""
