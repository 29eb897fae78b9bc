// A thin etcd v3 client over raw gRPC (@grpc/grpc-js + @grpc/proto-loader, with the protos
// the etcd3 package ships and bench/proto/v3lock.proto), so the baseline measures etcd and
// not a client library's retry and keep-alive machinery. Only the calls the benchmarks use
// are wrapped, each with a typed request and a checked response.
//
// One gRPC channel (one HTTP/2 connection) per endpoint, as etcd's Go client keeps one per
// endpoint. Calls carry no deadline: the load generator bounds every run, and close()
// cancels whatever is still in flight.

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

interface Method {
  readonly path: string;
  readonly serialize: (request: object) => Buffer;
  readonly deserialize: (bytes: Buffer) => unknown;
}

/** Compare.CompareResult.Equal and Compare.CompareTarget.Create in rpc.proto. */
const COMPARE_EQUAL = 0;
const COMPARE_CREATE = 1;

const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

function loadMethods(): Map<string, Method> {
  const require = createRequire(import.meta.url);
  const etcdProtoDir = join(dirname(require.resolve("etcd3/package.json")), "proto");
  const lockProto = fileURLToPath(new URL("../proto/v3lock.proto", import.meta.url));
  const defs = protoLoader.loadSync([join(etcdProtoDir, "rpc.proto"), lockProto], {
    ...LOADER_OPTIONS,
    includeDirs: [etcdProtoDir],
  });
  const methods = new Map<string, Method>();
  for (const service of ["etcdserverpb.KV", "etcdserverpb.Lease", "v3lockpb.Lock"]) {
    const def = defs[service];
    if (def === undefined || "format" in def) throw new Error(`proto service ${service} not found`);
    for (const [name, m] of Object.entries(def)) {
      const md = m as protoLoader.MethodDefinition<object, unknown>;
      methods.set(`${service}/${name}`, {
        path: md.path,
        serialize: md.requestSerialize,
        deserialize: md.responseDeserialize,
      });
    }
  }
  return methods;
}

let methodCache: Map<string, Method> | undefined;

function method(name: string): Method {
  methodCache ??= loadMethods();
  const m = methodCache.get(name);
  if (m === undefined) throw new Error(`unknown etcd gRPC method ${name}`);
  return m;
}

function field(response: unknown, name: string): unknown {
  if (typeof response !== "object" || response === null) throw new Error(`etcd answered ${String(response)}`);
  return (response as Record<string, unknown>)[name];
}

export class EtcdClient {
  private readonly clients: grpc.Client[];
  private readonly put = method("etcdserverpb.KV/Put");
  private readonly txn = method("etcdserverpb.KV/Txn");
  private readonly deleteRange = method("etcdserverpb.KV/DeleteRange");
  private readonly leaseGrant = method("etcdserverpb.Lease/LeaseGrant");
  private readonly leaseRevoke = method("etcdserverpb.Lease/LeaseRevoke");
  private readonly lock = method("v3lockpb.Lock/Lock");
  private readonly unlock = method("v3lockpb.Lock/Unlock");

  /** `endpoints` are "host:port" gRPC targets; callers pick one per call by index. */
  constructor(readonly endpoints: readonly string[]) {
    if (endpoints.length === 0) throw new Error("EtcdClient needs at least one endpoint");
    this.clients = endpoints.map((e) => new grpc.Client(e, grpc.credentials.createInsecure()));
  }

  private call(endpoint: number, m: Method, request: object): Promise<unknown> {
    const client = this.clients[endpoint % this.clients.length] as grpc.Client;
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(m.path, m.serialize, m.deserialize, request, (err, response) => {
        if (err !== null) reject(err);
        else resolve(response);
      });
    });
  }

  async putValue(endpoint: number, key: Buffer, value: Buffer): Promise<void> {
    await this.call(endpoint, this.put, { key, value });
  }

  /** Grants a lease of `ttlSeconds`; returns its id (int64 as a decimal string). */
  async grantLease(endpoint: number, ttlSeconds: number): Promise<string> {
    const id = field(await this.call(endpoint, this.leaseGrant, { TTL: ttlSeconds, ID: 0 }), "ID");
    if (typeof id !== "string" || id === "0") throw new Error(`LeaseGrant returned id ${String(id)}`);
    return id;
  }

  async revokeLease(endpoint: number, lease: string): Promise<void> {
    await this.call(endpoint, this.leaseRevoke, { ID: lease });
  }

  /** Txn: if `key` does not exist, put it attached to `lease`. Returns whether it was put. */
  async putIfAbsent(endpoint: number, key: Buffer, value: Buffer, lease: string): Promise<boolean> {
    const response = await this.call(endpoint, this.txn, {
      compare: [{ result: COMPARE_EQUAL, target: COMPARE_CREATE, key, create_revision: 0 }],
      success: [{ request_put: { key, value, lease } }],
      failure: [],
    });
    const succeeded = field(response, "succeeded");
    if (typeof succeeded !== "boolean") throw new Error(`Txn answered succeeded=${String(succeeded)}`);
    return succeeded;
  }

  /** Deletes one key; returns how many keys were deleted (0 or 1). */
  async deleteKey(endpoint: number, key: Buffer): Promise<number> {
    return Number(field(await this.call(endpoint, this.deleteRange, { key }), "deleted"));
  }

  /** v3lock Lock: blocks until `name` is held by `lease`; returns the ownership key. */
  async lockName(endpoint: number, name: Buffer, lease: string): Promise<Buffer> {
    const key = field(await this.call(endpoint, this.lock, { name, lease }), "key");
    if (!Buffer.isBuffer(key) || key.length === 0) throw new Error("v3lock Lock returned no key");
    return key;
  }

  async unlockKey(endpoint: number, key: Buffer): Promise<void> {
    await this.call(endpoint, this.unlock, { key });
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
