"""The face pipeline shared by every face space and scorer: detection, landmarks, alignment."""
