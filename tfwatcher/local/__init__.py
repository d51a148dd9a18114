"""Serving locally: finding and starting the Firestore emulator (`emulator`), the dashboard
server and its filtering proxy for phones on the LAN (`server`), and `tfwatcher local`
(`mode`).

Imports `tfwatcher.base` only.
"""
