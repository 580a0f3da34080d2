// docker-compose.yml's mongo-init: initiate the replica set once, then create or update
// one SCRAM user per service (readWrite on its own database only) from mongo_users.json,
// written by deploy/compose_secrets.py. Idempotent: a re-run sets the same passwords.
const fs = require("fs");
const rootPassword = fs.readFileSync("/run/secrets/mongo_root_password", "utf8").trim();
const users = JSON.parse(fs.readFileSync("/run/secrets/mongo_users.json", "utf8"));
const members = (process.env.PHR_MONGO_MEMBERS || "mongo:27017").split(",");
const host = members[0];
const conn = new Mongo(`mongodb://root:${encodeURIComponent(rootPassword)}@${host}/admin?directConnection=true`);
const admin = conn.getDB("admin");

try {
  admin.runCommand({ replSetGetStatus: 1 }).ok || (() => { throw new Error("not initiated"); })();
} catch (e) {
  const config = { _id: "rs0", members: members.map((h, i) => ({ _id: i, host: h })) };
  admin.runCommand({ replSetInitiate: config });
}
// Members named in PHR_MONGO_MEMBERS but not in the set yet (compose.cluster.yml on a set
// that began with one member) are added.
const current = admin.runCommand({ replSetGetConfig: 1 }).config;
const known = current.members.map((m) => m.host);
const missing = members.filter((h) => !known.includes(h));
if (missing.length) {
  let next = Math.max(...current.members.map((m) => m._id)) + 1;
  for (const h of missing) current.members.push({ _id: next++, host: h });
  current.version += 1;
  admin.runCommand({ replSetReconfig: current });
}

for (let i = 0; i < 120 && !admin.runCommand({ hello: 1 }).isWritablePrimary; i++) {
  sleep(500);
}
if (!admin.runCommand({ hello: 1 }).isWritablePrimary) {
  throw new Error("the replica set has no writable primary after 60 s");
}

for (const [name, user] of Object.entries(users)) {
  const roles = [{ role: "readWrite", db: user.database }];
  if (admin.getUser(name)) {
    admin.updateUser(name, { pwd: user.password, roles: roles });
  } else {
    admin.createUser({ user: name, pwd: user.password, roles: roles });
  }
  print(`user ${name}: readWrite on ${user.database}`);
}
