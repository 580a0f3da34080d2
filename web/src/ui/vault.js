// The browser's store of this page: the keystore document (already encrypted under the
// passphrase by the crypto module: IndexedDB never sees a plain key) and the pinned
// KGC parameters key. One object store, keys "keystore" and "pin".

const DB = "phr-exchange";
const STORE = "vault";

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run(mode, work) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export const load = (name) => run("readonly", (s) => s.get(name));
export const save = (name, value) => run("readwrite", (s) => s.put(value, name));
export const forget = (name) => run("readwrite", (s) => s.delete(name));
