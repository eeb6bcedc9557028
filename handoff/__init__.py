"""The help desk: human seats over Socket.IO, and the protocol every process speaks."""
