// Stand-in for actions/github-script: runs the `script` input as the body of an async function of
// (require, github, context, core), as the real action does, with `github` a fake Octokit whose REST calls
// read and write a JSON store (LF_ACT_STORE/github.json) that outlives one act run, and are all recorded.
'use strict';
const fs = require('fs');
const path = require('path');

const storeDir = process.env.LF_ACT_STORE;
if (!storeDir) throw new Error('the harness passes LF_ACT_STORE');
const storeFile = path.join(storeDir, 'github.json');

function load() {
  if (!fs.existsSync(storeFile)) return { next_id: 1000, comments: [], calls: [] };
  return JSON.parse(fs.readFileSync(storeFile, 'utf8'));
}
function save(store) {
  const tmp = `${storeFile}.${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(store, null, 2));
  fs.renameSync(tmp, storeFile);
}
function httpError(status, message) {
  const error = new Error(message);
  error.status = status;
  return error;
}
function need(params, names, route) {
  for (const name of names) {
    if (params[name] === undefined || params[name] === null || params[name] === '') {
      throw httpError(422, `${route}: missing ${name}`);
    }
  }
}

const bot = { login: 'github-actions[bot]', type: 'Bot' };

// Each route: (store, params) -> data. Only what the workflows call; anything else fails loudly.
const routes = {
  'issues.listComments': (store, p) => {
    need(p, ['owner', 'repo', 'issue_number'], 'issues.listComments');
    const perPage = Math.min(p.per_page || 30, 100);
    const page = p.page || 1;
    const all = store.comments.filter((c) => c.owner === p.owner && c.repo === p.repo && c.issue_number === p.issue_number);
    return all.slice((page - 1) * perPage, page * perPage);
  },
  'issues.getComment': (store, p) => {
    need(p, ['owner', 'repo', 'comment_id'], 'issues.getComment');
    const found = store.comments.find((c) => c.id === p.comment_id && c.owner === p.owner && c.repo === p.repo);
    if (!found) throw httpError(404, `no comment ${p.comment_id}`);
    return found;
  },
  'issues.createComment': (store, p) => {
    need(p, ['owner', 'repo', 'issue_number', 'body'], 'issues.createComment');
    const now = new Date().toISOString();
    const comment = { id: store.next_id++, owner: p.owner, repo: p.repo, issue_number: p.issue_number,
      body: p.body, user: bot, created_at: now, updated_at: now, updates: 0 };
    store.comments.push(comment);
    return comment;
  },
  'issues.updateComment': (store, p) => {
    need(p, ['owner', 'repo', 'comment_id', 'body'], 'issues.updateComment');
    const found = store.comments.find((c) => c.id === p.comment_id && c.owner === p.owner && c.repo === p.repo);
    if (!found) throw httpError(404, `no comment ${p.comment_id}`);
    found.body = p.body;
    found.updated_at = new Date().toISOString();
    found.updates += 1;
    return found;
  },
};

// Jobs of one run call the API at the same time: each call holds a lock (a folder made atomically) while it
// reads, changes and writes the store, as GitHub's own API is consistent between callers.
async function locked(fn) {
  const lock = `${storeFile}.lock`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      if (Date.now() > deadline) throw new Error(`the fake GitHub store stayed locked: ${lock}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  try {
    return fn();
  } finally {
    fs.rmdirSync(lock);
  }
}

async function call(route, params) {
  return locked(() => {
    const store = load();
    store.calls.push({ route, params: { ...params }, job: process.env.GITHUB_JOB || '' });
    let data;
    try {
      const handler = routes[route];
      if (!handler) throw httpError(501, `the fake GitHub API has no ${route}`);
      data = handler(store, params || {});
    } finally {
      save(store);
    }
    return { status: 200, data: JSON.parse(JSON.stringify(data)) };
  });
}

function restNamespace(namespace) {
  return new Proxy({}, {
    get(_target, method) {
      if (typeof method !== 'string') return undefined;
      const route = `${namespace}.${method}`;
      const fn = async (params) => call(route, params || {});
      fn.route = route;
      return fn;
    },
  });
}

const github = {
  rest: new Proxy({}, { get: (_t, ns) => (typeof ns === 'string' ? restNamespace(ns) : undefined) }),
  // Octokit's paginate: call the method page by page until a short page, concatenating the data arrays.
  async paginate(method, params = {}) {
    const perPage = Math.min(params.per_page || 30, 100);
    const items = [];
    for (let page = 1; ; page += 1) {
      const { data } = await method({ ...params, per_page: perPage, page });
      if (!Array.isArray(data)) throw new Error(`paginate: ${method.route} did not return a list`);
      items.push(...data);
      if (data.length < perPage) return items;
    }
  },
  request() { throw new Error('the fake GitHub API only answers github.rest.* calls'); },
};

const event = process.env.GITHUB_EVENT_PATH ? JSON.parse(fs.readFileSync(process.env.GITHUB_EVENT_PATH, 'utf8')) : {};
const [owner, repo] = (process.env.GITHUB_REPOSITORY || '/').split('/');
const context = {
  payload: event,
  eventName: process.env.GITHUB_EVENT_NAME,
  sha: process.env.GITHUB_SHA,
  ref: process.env.GITHUB_REF,
  workflow: process.env.GITHUB_WORKFLOW,
  job: process.env.GITHUB_JOB,
  runId: Number(process.env.GITHUB_RUN_ID),
  actor: process.env.GITHUB_ACTOR,
  repo: { owner, repo },
  issue: { owner, repo, number: (event.issue || event.pull_request || event).number },
};

function appendFile(variable, line) {
  if (process.env[variable]) fs.appendFileSync(process.env[variable], `${line}\n`);
}
const core = {
  failed: false,
  info: (message) => console.log(message),
  debug: (message) => console.log(`::debug::${message}`),
  notice: (message) => console.log(`::notice::${message}`),
  warning: (message) => console.log(`::warning::${message}`),
  error: (message) => console.log(`::error::${message}`),
  setFailed(message) { core.failed = true; process.exitCode = 1; console.log(`::error::${message}`); },
  setOutput: (name, value) => appendFile('GITHUB_OUTPUT', `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`),
  exportVariable: (name, value) => appendFile('GITHUB_ENV', `${name}=${value}`),
  getInput: (name) => process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || '',
};

async function main() {
  const script = core.getInput('script');
  if (!script.trim()) throw new Error('the script input is empty');
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  const fn = new AsyncFunction('require', 'github', 'context', 'core', script);
  const result = await fn(require, github, context, core);
  const encoded = core.getInput('result-encoding') === 'string' ? String(result) : JSON.stringify(result === undefined ? null : result);
  core.setOutput('result', encoded);
}

main().catch((error) => {
  core.setFailed(`the script failed: ${error && error.stack ? error.stack : error}`);
});
