// The official OpenWhisk JavaScript client (npm `openwhisk`) making the three requests FaaSET's
// openwhisk platform makes: create/update an action from a zip, a blocking invoke, and the get
// of an activation record. tests/cli/openwhisk.rs sends them to the contract-test control
// plane, which records them, and compares them with FaaSET's.
// Usage: node openwhisk_npm_client.js ACTION ZIP LIMITS_JSON PARAMS_JSON; the key and API host
// come from __OW_API_KEY and __OW_API_HOST, as the client reads them. Prints the activation.
const fs = require('fs')
const openwhisk = require('openwhisk')

async function main () {
  const [name, zip, limits, params] = process.argv.slice(2)
  const ow = openwhisk({ namespace: '_' })
  await ow.actions.create({
    name,
    action: fs.readFileSync(zip),
    kind: 'rust:1.34',
    limits: JSON.parse(limits),
    overwrite: true
  })
  const activation = await ow.actions.invoke({ name, blocking: true, params: JSON.parse(params) })
  const record = await ow.activations.get({ name: activation.activationId })
  console.log(JSON.stringify(record))
}

main().catch(error => {
  console.error(`openwhisk client failed: ${error.message}`)
  process.exit(1)
})
