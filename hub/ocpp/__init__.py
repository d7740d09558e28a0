"""The OCPP bridge: chargers connect here over OCPP-J 1.6 and 2.0.1 (the ``ocpp`` package)."""
