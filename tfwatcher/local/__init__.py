"""Serving locally: finding and starting the Firestore emulator (`emulator`), the dashboard
server for phones on the LAN (`server`: static files and init.json), its filtering Firestore
proxy (`proxy`) and connection limits (`limits`), and `tfwatcher local` (`mode`).

Imports `tfwatcher.base` only.
"""
