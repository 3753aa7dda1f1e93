// Ironkeep driven by a second, independent client: the AWS SDK for JavaScript v3.
//
// Input (environment): IRONKEEP_ENDPOINT_URL, IRONKEEP_ACCESS_KEY_ID, IRONKEEP_SECRET_ACCESS_KEY
// (the account's root keys). The scenario creates everything it needs under a path of its own
// (/jsdk-<random>/), checks every answer's shape, deletes what it made and prints one JSON line.
// Any failure: a message on stderr naming the step, a best-effort cleanup, exit code 1.

import { createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  AddUserToGroupCommand,
  AttachGroupPolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  CreateUserCommand,
  CreateVirtualMFADeviceCommand,
  DeactivateMFADeviceCommand,
  DeleteAccessKeyCommand,
  DeleteGroupCommand,
  DeletePolicyCommand,
  DeleteUserCommand,
  DeleteVirtualMFADeviceCommand,
  DetachGroupPolicyCommand,
  EnableMFADeviceCommand,
  GetGroupCommand,
  GetUserCommand,
  IAMClient,
  ListAttachedGroupPoliciesCommand,
  ListMFADevicesCommand,
  ListUsersCommand,
  RemoveUserFromGroupCommand,
  paginateListUsers,
} from "@aws-sdk/client-iam";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";

// ---------------------------------------------------------------------------------------------
// Checks

class ScenarioError extends Error {}

function check(condition, message) {
  if (!condition) throw new ScenarioError(message);
}

function checkEqual(actual, expected, what) {
  check(actual === expected, `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

function checkDate(value, what) {
  check(value instanceof Date && !Number.isNaN(value.getTime()), `${what}: expected a Date, got ${value}`);
}

function checkMatch(value, pattern, what) {
  check(typeof value === "string" && pattern.test(value), `${what}: ${JSON.stringify(value)} does not match ${pattern}`);
}

// The SDK takes the request id of an awsQuery answer (success or error) from the x-amzn-RequestId
// header only: recorded per call for the caller to judge, not asserted here.
const successRequestIds = [];
const errorRequestIds = [];

function checkStatus(response, what) {
  checkEqual(response.$metadata.httpStatusCode, 200, `${what} HTTP status`);
  successRequestIds.push({ call: what, requestId: response.$metadata.requestId ?? null });
}

// ---------------------------------------------------------------------------------------------
// RFC 4648 Base32 and RFC 6238 TOTP (HMAC-SHA1, 30 s steps, T0 = 0)

const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32Decode(text) {
  const clean = text.replace(/=+$/, "").toUpperCase();
  const out = [];
  let buffer = 0;
  let bits = 0;
  for (const char of clean) {
    const value = BASE32_ALPHABET.indexOf(char);
    if (value < 0) throw new ScenarioError(`not a Base32 character: ${JSON.stringify(char)}`);
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((buffer >> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

function hotp(key, counter, digits = 6) {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac("sha1", key).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, "0");
}

function totpStep(epochSeconds) {
  return Math.floor(epochSeconds / 30);
}

// RFC 6238 appendix B (SHA-1 seed "12345678901234567890"): our TOTP must reproduce it.
function selfTestTotp() {
  const key = Buffer.from("12345678901234567890", "ascii");
  const vectors = [
    [59, "94287082"],
    [1111111109, "07081804"],
    [1234567890, "89005924"],
    [20000000000, "65353130"],
  ];
  for (const [seconds, expected] of vectors) {
    checkEqual(hotp(key, totpStep(seconds), 8), expected, `RFC 6238 vector at T=${seconds}`);
  }
  checkEqual(base32Decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").toString("ascii"), "12345678901234567890", "Base32 decode");
}

// ---------------------------------------------------------------------------------------------
// The scenario

function environment() {
  const names = ["IRONKEEP_ENDPOINT_URL", "IRONKEEP_ACCESS_KEY_ID", "IRONKEEP_SECRET_ACCESS_KEY"];
  const missing = names.filter((name) => !process.env[name]);
  if (missing.length) throw new ScenarioError(`missing environment variables: ${missing.join(", ")}`);
  return {
    endpoint: process.env.IRONKEEP_ENDPOINT_URL,
    accessKeyId: process.env.IRONKEEP_ACCESS_KEY_ID,
    secretAccessKey: process.env.IRONKEEP_SECRET_ACCESS_KEY,
  };
}

function clientConfig(endpoint, accessKeyId, secretAccessKey) {
  return { endpoint, region: "us-east-1", credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 };
}

function sdkVersion(name) {
  const url = new URL(`./node_modules/${name}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")).version;
}

async function expectError(promise, what) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ScenarioError) throw error;
    return error;
  }
  throw new ScenarioError(`${what}: expected an error, the call succeeded`);
}

const USER_COUNT = 5;

async function run(env, state, steps) {
  const step = (name) => steps.push(name);
  const iam = new IAMClient(clientConfig(env.endpoint, env.accessKeyId, env.secretAccessKey));
  const sts = new STSClient(clientConfig(env.endpoint, env.accessKeyId, env.secretAccessKey));
  state.iam = iam;
  state.sts = sts;
  const tag = randomBytes(4).toString("hex");
  const path = `/jsdk-${tag}/`;
  const result = { sdk: { clientIam: sdkVersion("@aws-sdk/client-iam"), clientSts: sdkVersion("@aws-sdk/client-sts") } };

  step("self-test TOTP");
  selfTestTotp();

  step("GetCallerIdentity as root");
  const root = await sts.send(new GetCallerIdentityCommand({}));
  checkStatus(root, "GetCallerIdentity");
  checkMatch(root.Account, /^\d{12}$/, "root Account");
  checkEqual(root.Arn, `arn:aws:iam::${root.Account}:root`, "root Arn");
  const account = root.Account;
  result.accountId = account;
  result.rootArn = root.Arn;

  step("CreateUser");
  const userNames = Array.from({ length: USER_COUNT }, (_, i) => `jsdk-${tag}-user${i}`);
  const users = {};
  for (const name of userNames) {
    const created = await iam.send(new CreateUserCommand({ UserName: name, Path: path }));
    checkStatus(created, "CreateUser");
    const user = created.User;
    checkEqual(user.UserName, name, "CreateUser UserName");
    checkEqual(user.Path, path, "CreateUser Path");
    checkEqual(user.Arn, `arn:aws:iam::${account}:user${path}${name}`, "CreateUser Arn");
    checkMatch(user.UserId, /^AIDA[A-Z0-9]{17}$/, "CreateUser UserId");
    checkDate(user.CreateDate, "CreateUser CreateDate");
    users[name] = user;
    state.users.push(name);
  }
  const [mainName, otherName] = userNames;
  const mainUser = users[mainName];
  result.user = { name: mainName, arn: mainUser.Arn, userId: mainUser.UserId, path };

  step("CreateGroup");
  const groupName = `jsdk-${tag}-group`;
  const group = (await iam.send(new CreateGroupCommand({ GroupName: groupName, Path: path }))).Group;
  state.group = groupName;
  checkEqual(group.GroupName, groupName, "CreateGroup GroupName");
  checkEqual(group.Arn, `arn:aws:iam::${account}:group${path}${groupName}`, "CreateGroup Arn");
  checkMatch(group.GroupId, /^AGPA[A-Z0-9]{17}$/, "CreateGroup GroupId");
  checkDate(group.CreateDate, "CreateGroup CreateDate");

  step("AddUserToGroup");
  checkStatus(await iam.send(new AddUserToGroupCommand({ GroupName: groupName, UserName: mainName })), "AddUserToGroup");
  state.membership = true;
  const members = await iam.send(new GetGroupCommand({ GroupName: groupName }));
  checkEqual(members.Group.Arn, group.Arn, "GetGroup Group.Arn");
  checkEqual(JSON.stringify(members.Users.map((u) => u.UserName)), JSON.stringify([mainName]), "GetGroup Users");
  checkEqual(members.IsTruncated, false, "GetGroup IsTruncated");

  step("CreatePolicy");
  // The group's members may read themselves (a policy variable) and nothing else.
  const document = {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadSelf",
        Effect: "Allow",
        Action: ["iam:GetUser", "iam:ListMFADevices"],
        Resource: `arn:aws:iam::${account}:user${path}\${aws:username}`,
      },
    ],
  };
  const policyName = `jsdk-${tag}-read-self`;
  const policy = (
    await iam.send(
      new CreatePolicyCommand({
        PolicyName: policyName,
        Path: path,
        PolicyDocument: JSON.stringify(document),
        Description: "JS SDK scenario",
      }),
    )
  ).Policy;
  state.policyArn = policy.Arn;
  checkEqual(policy.PolicyName, policyName, "CreatePolicy PolicyName");
  checkEqual(policy.Arn, `arn:aws:iam::${account}:policy${path}${policyName}`, "CreatePolicy Arn");
  checkMatch(policy.PolicyId, /^ANPA[A-Z0-9]{17}$/, "CreatePolicy PolicyId");
  checkEqual(policy.DefaultVersionId, "v1", "CreatePolicy DefaultVersionId");
  checkEqual(policy.AttachmentCount, 0, "CreatePolicy AttachmentCount");
  checkEqual(policy.IsAttachable, true, "CreatePolicy IsAttachable");
  checkDate(policy.CreateDate, "CreatePolicy CreateDate");
  result.policyArn = policy.Arn;

  step("AttachGroupPolicy");
  await iam.send(new AttachGroupPolicyCommand({ GroupName: groupName, PolicyArn: policy.Arn }));
  state.attached = true;
  const attached = await iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: groupName }));
  checkEqual(
    JSON.stringify(attached.AttachedPolicies),
    JSON.stringify([{ PolicyName: policyName, PolicyArn: policy.Arn }]),
    "ListAttachedGroupPolicies AttachedPolicies",
  );

  step("CreateAccessKey");
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: mainName }))).AccessKey;
  state.accessKey = { user: mainName, id: key.AccessKeyId };
  checkEqual(key.UserName, mainName, "CreateAccessKey UserName");
  checkMatch(key.AccessKeyId, /^AKIA[A-Z0-9]{16}$/, "CreateAccessKey AccessKeyId");
  checkEqual(key.SecretAccessKey?.length, 40, "CreateAccessKey SecretAccessKey length");
  checkEqual(key.Status, "Active", "CreateAccessKey Status");
  checkDate(key.CreateDate, "CreateAccessKey CreateDate");
  result.accessKeyId = key.AccessKeyId;

  step("CreateVirtualMFADevice");
  const deviceName = `jsdk-${tag}-mfa`;
  const device = (await iam.send(new CreateVirtualMFADeviceCommand({ VirtualMFADeviceName: deviceName, Path: path })))
    .VirtualMFADevice;
  state.mfa = { serial: device.SerialNumber, enabled: false };
  checkEqual(device.SerialNumber, `arn:aws:iam::${account}:mfa${path}${deviceName}`, "CreateVirtualMFADevice SerialNumber");
  check(device.Base32StringSeed instanceof Uint8Array, "CreateVirtualMFADevice Base32StringSeed is not a blob");
  const seed = Buffer.from(device.Base32StringSeed).toString("ascii");
  checkMatch(seed, /^[A-Z2-7]+=*$/, "CreateVirtualMFADevice Base32StringSeed");
  check(device.QRCodePNG instanceof Uint8Array, "CreateVirtualMFADevice QRCodePNG is not a blob");
  checkEqual(Buffer.from(device.QRCodePNG.subarray(0, 8)).toString("hex"), "89504e470d0a1a0a", "QRCodePNG signature");
  result.mfaSerial = device.SerialNumber;
  result.seedLength = seed.length;

  step("EnableMFADevice");
  // The codes of the previous and the current 30-second step, as an authenticator app shows them.
  const secret = base32Decode(seed);
  const now = totpStep(Date.now() / 1000);
  const code1 = hotp(secret, now - 1);
  const code2 = hotp(secret, now);
  const enabled = await iam.send(
    new EnableMFADeviceCommand({
      UserName: mainName,
      SerialNumber: device.SerialNumber,
      AuthenticationCode1: code1,
      AuthenticationCode2: code2,
    }),
  );
  checkStatus(enabled, "EnableMFADevice");
  state.mfa.enabled = true;
  const mfaList = (await iam.send(new ListMFADevicesCommand({ UserName: mainName }))).MFADevices;
  checkEqual(mfaList.length, 1, "ListMFADevices count");
  checkEqual(mfaList[0].SerialNumber, device.SerialNumber, "ListMFADevices SerialNumber");
  checkEqual(mfaList[0].UserName, mainName, "ListMFADevices UserName");
  checkDate(mfaList[0].EnableDate, "ListMFADevices EnableDate");
  result.mfaEnabled = true;

  step("ListUsers by Marker");
  const manualPages = [];
  let marker;
  for (;;) {
    const page = await iam.send(new ListUsersCommand({ PathPrefix: path, MaxItems: 2, Marker: marker }));
    checkStatus(page, "ListUsers");
    check(typeof page.IsTruncated === "boolean", "ListUsers IsTruncated is not a boolean");
    check(page.Users.length <= 2, `ListUsers returned ${page.Users.length} users for MaxItems 2`);
    for (const user of page.Users) {
      checkEqual(user.Arn, users[user.UserName]?.Arn, `ListUsers Arn of ${user.UserName}`);
      checkEqual(user.UserId, users[user.UserName]?.UserId, `ListUsers UserId of ${user.UserName}`);
      checkDate(user.CreateDate, "ListUsers CreateDate");
    }
    manualPages.push(page.Users.map((u) => u.UserName));
    if (!page.IsTruncated) {
      checkEqual(page.Marker, undefined, "ListUsers Marker of the last page");
      break;
    }
    checkMatch(page.Marker, /./, "ListUsers Marker of a truncated page");
    check(manualPages.length <= USER_COUNT, "ListUsers keeps answering IsTruncated=true");
    marker = page.Marker;
  }
  const listed = manualPages.flat();
  checkEqual(JSON.stringify([...listed].sort()), JSON.stringify([...userNames].sort()), "ListUsers pages (Marker)");
  result.markerPages = manualPages;

  step("paginateListUsers");
  const paginatorPages = [];
  for await (const page of paginateListUsers({ client: iam, pageSize: 2 }, { PathPrefix: path })) {
    paginatorPages.push(page.Users.map((u) => u.UserName));
  }
  checkEqual(JSON.stringify(paginatorPages), JSON.stringify(manualPages), "paginateListUsers pages");
  result.paginatorPages = paginatorPages;

  step("act as the user");
  const asUser = new IAMClient(clientConfig(env.endpoint, key.AccessKeyId, key.SecretAccessKey));
  state.userClient = asUser;
  const self = await asUser.send(new GetUserCommand({}));
  checkStatus(self, "GetUser as the user");
  checkEqual(self.User.UserName, mainName, "GetUser (self) UserName");
  checkEqual(self.User.Arn, mainUser.Arn, "GetUser (self) Arn");
  checkEqual(self.User.UserId, mainUser.UserId, "GetUser (self) UserId");
  const ownMfa = (await asUser.send(new ListMFADevicesCommand({}))).MFADevices;
  checkEqual(ownMfa.map((d) => d.SerialNumber).join(), device.SerialNumber, "ListMFADevices (self)");
  result.self = { userName: self.User.UserName, arn: self.User.Arn };

  result.denied = [];
  // AWS's words: "User: <arn> is not authorized to perform: <action> on resource: <arn> because no
  // identity-based policy allows the <action> action". ListUsers names the account's users.
  const escape = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const deniedCalls = [
    ["iam:GetUser", escape(users[otherName].Arn), new GetUserCommand({ UserName: otherName })],
    ["iam:ListUsers", `${escape(`arn:aws:iam::${account}:user/`)}\\S*`, new ListUsersCommand({ PathPrefix: path })],
  ];
  for (const [action, resource, command] of deniedCalls) {
    const error = await expectError(asUser.send(command), `${action} as the user`);
    checkEqual(error.name, "AccessDenied", `${action} as the user: error name`);
    checkEqual(error.$metadata?.httpStatusCode, 403, `${action} as the user: HTTP status`);
    checkEqual(error.$fault, "client", `${action} as the user: fault`);
    const expected = new RegExp(
      `^User: ${escape(mainUser.Arn)} is not authorized to perform: ${action} on resource: ${resource} ` +
        `because no identity-based policy allows the ${action} action$`,
    );
    checkMatch(error.message, expected, `${action} as the user: message`);
    errorRequestIds.push({ call: action, requestId: error.$metadata.requestId ?? null });
    result.denied.push({ action, name: error.name, status: error.$metadata.httpStatusCode, message: error.message });
  }

  step("GetCallerIdentity as the user");
  const userSts = new STSClient(clientConfig(env.endpoint, key.AccessKeyId, key.SecretAccessKey));
  state.userSts = userSts;
  const identity = await userSts.send(new GetCallerIdentityCommand({}));
  checkStatus(identity, "GetCallerIdentity as the user");
  checkEqual(identity.Arn, mainUser.Arn, "GetCallerIdentity Arn");
  checkEqual(identity.UserId, mainUser.UserId, "GetCallerIdentity UserId");
  checkEqual(identity.Account, account, "GetCallerIdentity Account");
  result.callerIdentity = { Account: identity.Account, Arn: identity.Arn, UserId: identity.UserId };

  step("delete");
  result.deleted = await deleteAll(state, { strict: true });

  step("check deletion");
  const gone = await expectError(iam.send(new GetUserCommand({ UserName: mainName })), "GetUser after DeleteUser");
  checkEqual(gone.name, "NoSuchEntityException", "GetUser after DeleteUser: error name");
  checkEqual(gone.$metadata?.httpStatusCode, 404, "GetUser after DeleteUser: HTTP status");
  const left = await iam.send(new ListUsersCommand({ PathPrefix: path }));
  checkEqual(left.Users.length, 0, "ListUsers after deleting the scenario's users");
  result.notFoundAfterDelete = gone.name;
  result.requestIds = { success: successRequestIds, error: errorRequestIds };
  return result;
}

// Deletes what ``state`` says exists, in dependency order. ``strict``: the first failure throws
// (the scenario's own deletion step); otherwise failures are ignored (cleanup after a failure).
async function deleteAll(state, { strict }) {
  const iam = state.iam;
  const done = [];
  const attempt = async (name, command, onDone) => {
    try {
      await iam.send(command);
      onDone();
      done.push(name);
    } catch (error) {
      if (strict) throw new ScenarioError(`${name} failed: ${error.name}: ${error.message}`);
    }
  };
  if (state.mfa?.enabled) {
    const UserName = state.users[0];
    await attempt("DeactivateMFADevice", new DeactivateMFADeviceCommand({ UserName, SerialNumber: state.mfa.serial }), () => {
      state.mfa.enabled = false;
    });
  }
  if (state.mfa && !state.mfa.enabled) {
    await attempt("DeleteVirtualMFADevice", new DeleteVirtualMFADeviceCommand({ SerialNumber: state.mfa.serial }), () => {
      state.mfa = null;
    });
  }
  if (state.accessKey) {
    const { user, id } = state.accessKey;
    await attempt("DeleteAccessKey", new DeleteAccessKeyCommand({ UserName: user, AccessKeyId: id }), () => {
      state.accessKey = null;
    });
  }
  if (state.attached) {
    const command = new DetachGroupPolicyCommand({ GroupName: state.group, PolicyArn: state.policyArn });
    await attempt("DetachGroupPolicy", command, () => {
      state.attached = false;
    });
  }
  if (state.membership) {
    const command = new RemoveUserFromGroupCommand({ GroupName: state.group, UserName: state.users[0] });
    await attempt("RemoveUserFromGroup", command, () => {
      state.membership = false;
    });
  }
  if (state.group) {
    await attempt("DeleteGroup", new DeleteGroupCommand({ GroupName: state.group }), () => {
      state.group = null;
    });
  }
  if (state.policyArn) {
    await attempt("DeletePolicy", new DeletePolicyCommand({ PolicyArn: state.policyArn }), () => {
      state.policyArn = null;
    });
  }
  for (const name of [...state.users]) {
    await attempt("DeleteUser", new DeleteUserCommand({ UserName: name }), () => {
      state.users = state.users.filter((u) => u !== name);
    });
  }
  return done;
}

async function main() {
  const started = process.hrtime.bigint();
  const steps = [];
  const state = { users: [] };
  let env;
  try {
    env = environment();
    const result = await run(env, state, steps);
    result.ok = true;
    result.elapsedMs = Number((process.hrtime.bigint() - started) / 1_000_000n);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (error) {
    const where = steps.length ? steps[steps.length - 1] : "setup";
    const kind = error instanceof ScenarioError ? "check failed" : `${error.name ?? "error"} from the server or SDK`;
    process.stderr.write(`scenario failed at step "${where}": ${kind}: ${error.message}\n`);
    if (!(error instanceof ScenarioError) && error.$metadata) {
      process.stderr.write(`  HTTP status ${error.$metadata.httpStatusCode}\n`);
    }
    if (state.iam) {
      const cleaned = await deleteAll(state, { strict: false });
      process.stderr.write(`  cleanup: ${cleaned.join(", ") || "nothing to delete"}\n`);
    }
    return 1;
  } finally {
    for (const client of [state.iam, state.sts, state.userClient, state.userSts]) client?.destroy();
  }
}

process.exitCode = await main();
