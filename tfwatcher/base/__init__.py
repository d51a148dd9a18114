"""What recording, reading, local serving and setup all need: the data contract
(`contract.json`), session IDs, finding the project and credentials (`project`), explaining
access errors (`access`) and the notebook/terminal output of links and QR codes (`display`).

Imports nothing from the rest of `tfwatcher`: every other folder may import this one.
"""
