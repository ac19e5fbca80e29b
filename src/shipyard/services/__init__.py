"""Use cases. Services own the rules; stores implement the ports they define."""
