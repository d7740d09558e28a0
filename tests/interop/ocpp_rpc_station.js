// An OCPP 1.6 station driven by the ocpp-rpc package (strict mode: every message we send and
// every answer the hub gives is validated against the OCPP 1.6 JSON schemas by ocpp-rpc).
// Usage: node ocpp_rpc_station.js WS_ENDPOINT STATION_ID PASSWORD
// Prints one JSON object with the answers it received.
const { RPCClient } = require("ocpp-rpc");

async function main() {
  const [endpoint, identity, password] = process.argv.slice(2);
  const client = new RPCClient({
    endpoint,
    identity,
    password,
    protocols: ["ocpp1.6"],
    strictMode: true,
    reconnect: false,
  });
  const received = [];
  client.handle("RemoteStartTransaction", ({ params }) => {
    received.push(["RemoteStartTransaction", params]);
    return { status: "Accepted" };
  });
  await client.connect();
  const result = { protocol: client.protocol };
  result.boot = await client.call("BootNotification", {
    chargePointVendor: "ocpp-rpc",
    chargePointModel: "interop",
  });
  result.statuses = [];
  for (const [connectorId, status] of [[1, "Available"], [2, "Preparing"], [2, "Charging"], [1, "Faulted"]]) {
    result.statuses.push(
      await client.call("StatusNotification", { connectorId, errorCode: "NoError", status })
    );
  }
  result.heartbeat = await client.call("Heartbeat", {});
  try {
    await client.call("DataTransfer", { vendorId: "interop" });
    result.dataTransfer = "answered";
  } catch (error) {
    result.dataTransfer = `error: ${error.message}`;
  }
  await client.close();
  console.log(JSON.stringify(result));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
