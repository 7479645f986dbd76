#!/usr/bin/env bash
# tests/static/test_deploy.sh — checks the deployment files without a broker,
# a cluster or a Docker engine: what they promise operators (SPEC §9) must
# hold in the files themselves.
#  - Kubernetes: loads the base's YAML files as they are, and also renders
#    deploy/k8s/overlays/example with `kubectl kustomize` when a kubectl with
#    kustomize v4 or newer is there (the overlay uses `replacements`; Debian
#    bookworm's kubernetes-client is 1.20 with kustomize v2, so a fresh
#    machine checks the base only, and says so). In both: the objects and their names, probes on /healthz and /readyz on the
#    port the daemon listens on, grace period above the shutdown budget,
#    every credential from a secretKeyRef and no secret value anywhere, KEDA
#    bounds (1 ≤ min, max ≤ partitions), a PDB per Deployment.
#  - docker-compose.yml: `docker compose config -q` when the compose plugin
#    is there, and always structural checks (services, depends_on conditions,
#    health checks, demo-only secret defaults); the topic script is run
#    against a recorder; the compose health-check helper against a tiny
#    HTTP server.
#  - Dockerfile: builds with exactly scripts/test.sh's normal configure
#    command, and ships the runtime libraries the build links.
# Needs python3 with PyYAML (Debian python3-yaml, installed by scripts/setup.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

py=""
for c in python3 /usr/bin/python3; do
  if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import yaml' 2>/dev/null; then py=$c; break; fi
done
if [ -z "$py" ]; then
  echo "FAIL: no python3 with PyYAML (Debian package python3-yaml; scripts/setup.sh installs it)"
  exit 1
fi

# --- Kubernetes ------------------------------------------------------------
k8s_mode=base
if command -v kubectl >/dev/null 2>&1; then
  kz=$(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p')
  if [ -n "$kz" ] && [ "$kz" -ge 4 ]; then
    k8s_mode=rendered k8s_rendered=1
    if ! kubectl kustomize deploy/k8s/overlays/example >"$tmp/rendered.yaml" 2>"$tmp/kustomize.err"; then
      bad "kubectl kustomize deploy/k8s/overlays/example: $(cat "$tmp/kustomize.err")"
      k8s_mode=broken
    fi
  else
    echo "note: kubectl's kustomize is older than v4 (or unknown); checking the base's files unrendered"
  fi
else
  echo "note: no kubectl; checking the base's files unrendered (overlay patches not applied)"
fi

# --- compose helpers: the topic script against a recorder -------------------
cat >"$tmp/kafka-topics.sh" <<'EOF'
#!/bin/sh
# Records each --create as "topic partitions config..." and succeeds.
topic="" parts="" conf=""
while [ $# -gt 0 ]; do
  case "$1" in
    --topic) topic=$2; shift ;;
    --partitions) parts=$2; shift ;;
    --config) conf="$conf $2"; shift ;;
  esac
  shift
done
[ -n "$topic" ] && echo "$topic $parts$conf" >>"$RECORD"
exit 0
EOF
chmod +x "$tmp/kafka-topics.sh"
if ! env -i PATH="$PATH" RECORD="$tmp/topics.txt" KAFKA_TOPICS="$tmp/kafka-topics.sh" \
     sh deploy/compose/create-topics.sh >/dev/null; then
  bad "deploy/compose/create-topics.sh failed"
fi
touch "$tmp/topics.txt"

# --- compose helpers: the health-check helper against a real HTTP server ---
bash -n deploy/compose/qalert-healthcheck.sh || bad "qalert-healthcheck.sh: syntax"
mkdir -p "$tmp/www"; echo ok >"$tmp/www/healthz"
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$tmp/www" && exec "$py" -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
server_pid=$!
for _ in $(seq 50); do
  bash deploy/compose/qalert-healthcheck.sh "$port" /healthz 2>/dev/null && break
  sleep 0.1
done
bash deploy/compose/qalert-healthcheck.sh "$port" /healthz 2>/dev/null \
  || bad "qalert-healthcheck.sh: 200 on /healthz not recognised"
if bash deploy/compose/qalert-healthcheck.sh "$port" /nothing-here 2>/dev/null; then
  bad "qalert-healthcheck.sh: a 404 counted as healthy"
fi
kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""

# --- docker compose's own validation, when the plugin is installed ----------
if docker compose version >/dev/null 2>&1; then
  docker compose -f docker-compose.yml config -q || bad "docker compose config -q"
else
  echo "note: no docker compose plugin; docker-compose.yml gets structural checks only"
fi

# --- everything else is read by Python --------------------------------------
cat >"$tmp/check.py" <<'EOF'
import json, os, re, sys
import yaml

mode, rendered, topics_txt = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []
def bad(msg): failures.append(msg)

SECRETISH = re.compile(r'(KEY|SECRET|TOKEN|PASSWORD|WEBHOOK_URL)')
def is_secret_var(name):
    # QALERT_INGEST_API_KEY_HEADER names a header; it is not a credential.
    return bool(SECRETISH.search(name)) and not name.endswith('_HEADER')

def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]

def parse_env_file(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith('#'):
            k, _, v = line.partition('=')
            out[k] = v
    return out

# ---- Kubernetes objects ----
base = 'deploy/k8s/base'
def k8s_objects(mode):
    if mode == 'rendered':
        return load_all(rendered)
    # 'base': the base's files as kustomize would read them, minus name
    # hashes, namespace and overlay patches.
    kz = yaml.safe_load(open(os.path.join(base, 'kustomization.yaml')))
    objs = []
    for r in kz.get('resources', []):
        objs += load_all(os.path.join(base, r))
    for g in kz.get('configMapGenerator', []):
        data = {}
        for e in g.get('envs', []):
            data.update(parse_env_file(os.path.join(base, e)))
        for fl in g.get('files', []):
            data[os.path.basename(fl)] = open(os.path.join(base, fl)).read()
        objs.append({'apiVersion': 'v1', 'kind': 'ConfigMap',
                     'metadata': {'name': g['name']}, 'data': data})
    return objs

def by_kind(objs, kind):
    return {o['metadata']['name']: o for o in objs if o.get('kind') == kind}

def cm_named(objs, prefix):
    # kustomize appends a content hash to generated names.
    for name, o in by_kind(objs, 'ConfigMap').items():
        if name == prefix or re.fullmatch(re.escape(prefix) + r'-[a-z0-9]{10}', name):
            return o
    return None

def check_k8s(mode, objs):
    def bad(msg):
        failures.append(f"[{'overlay' if mode == 'rendered' else 'base'}] {msg}")
    deps, pdbs = by_kind(objs, 'Deployment'), by_kind(objs, 'PodDisruptionBudget')
    sos, hpas = by_kind(objs, 'ScaledObject'), by_kind(objs, 'HorizontalPodAutoscaler')
    svcs = by_kind(objs, 'Service')
    config = cm_named(objs, 'qalert-config')
    policy = cm_named(objs, 'qalert-policy')
    cfg = (config or {}).get('data', {})
    if not config: bad('k8s: no ConfigMap qalert-config')
    for k in cfg:
        if is_secret_var(k): bad(f'k8s: ConfigMap qalert-config holds {k}; credentials belong in a Secret')
    if not policy: bad('k8s: no ConfigMap qalert-policy')
    else:
        try:
            p = json.loads(policy.get('data', {}).get('policy.json', ''))
            if 'default' not in p: bad('k8s: policy.json has no "default"')
        except ValueError as e:
            bad(f'k8s: policy.json is not JSON: {e}')
    for o in objs:
        if o.get('kind') == 'Secret' and (o.get('data') or o.get('stringData')):
            bad(f"k8s: Secret {o['metadata']['name']} carries values; secrets are created with kubectl, never rendered")
        if mode == 'base' and 'namespace' in o.get('metadata', {}):
            bad(f"k8s: base object {o['kind']}/{o['metadata']['name']} sets a namespace; the base must be namespace-agnostic")
    if mode == 'rendered':
        nss = {o['metadata'].get('namespace') for o in objs if o.get('kind') != 'Namespace'}
        if len(nss) != 1 or None in nss: bad(f'k8s: objects spread over namespaces {nss}')

    # name → (admin port, KEDA topic setting, consumer group)
    expect = {
        'qalert-ingest': (8080, None, None),
        'qalert-processor': (9400, 'QALERT_TOPIC_RAW', 'qalert-processor'),
        'qalert-notifier-slack': (9401, 'QALERT_TOPIC_ALERTS', 'qalert-notifier-slack'),
        'qalert-notifier-opsgenie': (9402, 'QALERT_TOPIC_ALERTS', 'qalert-notifier-opsgenie'),
    }
    for name, (admin_port, topic_var, group) in expect.items():
        d = deps.get(name)
        if not d:
            bad(f'k8s: no Deployment {name}'); continue
        spec, pod = d['spec'], d['spec']['template']['spec']
        labels = d['spec']['template']['metadata'].get('labels', {})
        if 'replicas' in spec:
            bad(f'k8s: {name} sets replicas; its autoscaler owns the count')
        if not all(labels.get(k) == v for k, v in spec['selector'].get('matchLabels', {}).items()):
            bad(f'k8s: {name} selector does not match its pod labels')
        psc = pod.get('securityContext', {})
        for c in pod['containers']:
            where = f"k8s: {name}/{c['name']}"
            ports = {p.get('name'): p['containerPort'] for p in c.get('ports', [])}
            def port_of(probe):
                p = probe.get('httpGet', {}).get('port')
                return ports.get(p) if isinstance(p, str) else p
            for kind, path in (('livenessProbe', '/healthz'), ('readinessProbe', '/readyz')):
                probe = c.get(kind)
                if not probe or probe.get('httpGet', {}).get('path') != path:
                    bad(f'{where}: {kind} must be an httpGet on {path}')
                elif port_of(probe) != admin_port:
                    bad(f'{where}: {kind} probes port {port_of(probe)}, the daemon serves {path} on {admin_port}')
            env = {e['name']: e for e in c.get('env', [])}
            addr_var = 'QALERT_INGEST_ADDR' if name == 'qalert-ingest' else 'QALERT_ADMIN_ADDR'
            addr = env.get(addr_var, {}).get('value', '')
            if not addr.endswith(f':{admin_port}'):
                bad(f'{where}: {addr_var}={addr!r}, expected port {admin_port}')
            for en, e in env.items():
                if is_secret_var(en):
                    ref = (e.get('valueFrom') or {}).get('secretKeyRef')
                    if 'value' in e or not ref:
                        bad(f'{where}: {en} must come from a secretKeyRef, not a literal')
                    elif ref.get('name') != 'qalert-secrets':
                        bad(f"{where}: {en} reads Secret {ref.get('name')}, expected qalert-secrets")
            for ef in c.get('envFrom', []):
                if 'secretRef' in ef: continue
                if ef.get('configMapRef', {}).get('name') != (config or {}).get('metadata', {}).get('name'):
                    bad(f"{where}: envFrom names a ConfigMap that is not rendered: {ef}")
            # Shutdown budget: preStop sleep + QALERT_SHUTDOWN_TIMEOUT_MS < grace.
            shutdown_ms = int(env.get('QALERT_SHUTDOWN_TIMEOUT_MS', {}).get('value')
                              or cfg.get('QALERT_SHUTDOWN_TIMEOUT_MS') or 10000)
            pre = c.get('lifecycle', {}).get('preStop', {})
            pre_s = 0
            cmd = pre.get('exec', {}).get('command', [])
            if cmd[:1] == ['sleep'] and len(cmd) == 2: pre_s = int(cmd[1])
            if 'sleep' in pre: pre_s = int(pre['sleep']['seconds'])
            grace = pod.get('terminationGracePeriodSeconds', 30)
            if not grace > shutdown_ms / 1000 + pre_s:
                bad(f'{where}: terminationGracePeriodSeconds {grace} <= preStop {pre_s}s + shutdown {shutdown_ms}ms')
            sc = c.get('securityContext', {})
            if not (sc.get('runAsNonRoot') or psc.get('runAsNonRoot')): bad(f'{where}: not runAsNonRoot')
            if sc.get('readOnlyRootFilesystem') is not True: bad(f'{where}: root filesystem not read-only')
            if sc.get('allowPrivilegeEscalation') is not False: bad(f'{where}: privilege escalation allowed')
            res = c.get('resources', {})
            for part in ('requests', 'limits'):
                for r in ('cpu', 'memory'):
                    if r not in res.get(part, {}): bad(f'{where}: no {part}.{r}')
            img = c.get('image', '')
            if mode == 'rendered' and ':' not in img.rsplit('/', 1)[-1]:
                bad(f'{where}: image {img!r} has no tag')
        if name == 'qalert-processor':
            c = pod['containers'][0]
            pf = {e['name']: e.get('value') for e in c.get('env', [])}.get('QALERT_SLA_POLICY_FILE', '')
            mounts = {m['mountPath']: m['name'] for m in c.get('volumeMounts', [])}
            vol = mounts.get(os.path.dirname(pf))
            vols = {v['name']: v for v in pod.get('volumes', [])}
            if not vol or vols.get(vol, {}).get('configMap', {}).get('name') != (policy or {}).get('metadata', {}).get('name'):
                bad(f'k8s: processor policy {pf!r} is not mounted from the qalert-policy ConfigMap')
        # Disruption budget selecting this Deployment's pods.
        if not any(all(labels.get(k) == v for k, v in p['spec'].get('selector', {}).get('matchLabels', {}).items())
                   and ('minAvailable' in p['spec'] or 'maxUnavailable' in p['spec'])
                   for p in pdbs.values()):
            bad(f'k8s: no PodDisruptionBudget selects {name}')
        if topic_var is None:
            h = hpas.get(name)
            if not h or h.get('apiVersion') != 'autoscaling/v2':
                bad(f'k8s: no autoscaling/v2 HorizontalPodAutoscaler {name}')
            else:
                hs = h['spec']
                if hs['scaleTargetRef'].get('name') != name: bad(f'k8s: HPA {name} targets {hs["scaleTargetRef"]}')
                if not any(m.get('resource', {}).get('name') == 'cpu' for m in hs.get('metrics', [])):
                    bad(f'k8s: HPA {name} does not scale on CPU')
                if not 1 <= hs.get('minReplicas', 1) <= hs['maxReplicas']:
                    bad(f'k8s: HPA {name} bounds {hs.get("minReplicas")}..{hs["maxReplicas"]}')
            s = svcs.get(name)
            if not s or not all(labels.get(k) == v for k, v in s['spec'].get('selector', {}).items()):
                bad(f'k8s: no Service {name} selecting its pods')
            continue
        so = sos.get(name)
        if not so or so.get('apiVersion') != 'keda.sh/v1alpha1':
            bad(f'k8s: no keda.sh/v1alpha1 ScaledObject {name}'); continue
        ss = so['spec']
        if ss.get('scaleTargetRef', {}).get('name') != name: bad(f'k8s: ScaledObject {name} targets {ss.get("scaleTargetRef")}')
        parts = so['metadata'].get('annotations', {}).get('qalert.io/topic-partitions')
        mn, mx = ss.get('minReplicaCount', 0), ss.get('maxReplicaCount', 100)
        if mn < 1: bad(f'k8s: ScaledObject {name} minReplicaCount {mn} < 1')
        if parts is None: bad(f'k8s: ScaledObject {name} lacks the qalert.io/topic-partitions annotation')
        elif mx > int(parts): bad(f'k8s: ScaledObject {name} maxReplicaCount {mx} > {parts} partitions')
        if mx < mn: bad(f'k8s: ScaledObject {name} max {mx} < min {mn}')
        trig = [t for t in ss.get('triggers', []) if t.get('type') == 'kafka']
        if not trig: bad(f'k8s: ScaledObject {name} has no kafka trigger'); continue
        md = trig[0].get('metadata', {})
        for k in ('bootstrapServers', 'consumerGroup', 'topic', 'lagThreshold'):
            if not md.get(k): bad(f'k8s: ScaledObject {name} trigger lacks {k}')
        if md.get('consumerGroup') != group: bad(f'k8s: ScaledObject {name} watches group {md.get("consumerGroup")}, the daemon uses {group}')
        if md.get('topic') != cfg.get(topic_var): bad(f'k8s: ScaledObject {name} watches {md.get("topic")}, the daemon reads {cfg.get(topic_var)}')
        if mode == 'rendered' and md.get('bootstrapServers') != cfg.get('QALERT_KAFKA_BROKERS'):
            bad(f'k8s: ScaledObject {name} asks {md.get("bootstrapServers")}, the daemons use {cfg.get("QALERT_KAFKA_BROKERS")}')
        if not str(md.get('lagThreshold', '')).isdigit(): bad(f'k8s: ScaledObject {name} lagThreshold not a number')

check_k8s('base', k8s_objects('base'))
if mode == 'rendered':
    check_k8s('rendered', k8s_objects('rendered'))

# ---- docker-compose.yml ----
dc = yaml.safe_load(open('docker-compose.yml'))
svc = dc.get('services', {})
want = ['kafka', 'topics', 'ingest', 'processor', 'notifier-slack', 'notifier-opsgenie',
        'slack-emulator', 'opsgenie-emulator']
for s in want:
    if s not in svc: bad(f'compose: no service {s}')
def env_of(s):
    e = svc.get(s, {}).get('environment', {})
    if isinstance(e, list): e = dict(x.split('=', 1) for x in e)
    return {k: str(v) for k, v in e.items()}
k = svc.get('kafka', {})
if k.get('image') != 'apache/kafka:3.9.1': bad(f"compose: kafka image {k.get('image')}")
ke = env_of('kafka')
for var, val in (('KAFKA_PROCESS_ROLES', 'broker,controller'), ('KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', '1'),
                 ('KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR', '1'), ('KAFKA_TRANSACTION_STATE_LOG_MIN_ISR', '1')):
    if ke.get(var) != val: bad(f'compose: kafka {var}={ke.get(var)!r}, want {val!r}')
for var in ('KAFKA_NODE_ID', 'KAFKA_LISTENERS', 'KAFKA_ADVERTISED_LISTENERS', 'KAFKA_CONTROLLER_QUORUM_VOTERS',
            'KAFKA_CONTROLLER_LISTENER_NAMES'):
    if var not in ke: bad(f'compose: kafka lacks {var}')
if 'kafka-broker-api-versions.sh' not in str(k.get('healthcheck', {}).get('test')):
    bad('compose: kafka health check is not kafka-broker-api-versions.sh')
def dep(s, on, cond):
    d = svc.get(s, {}).get('depends_on', {})
    if not isinstance(d, dict) or d.get(on, {}).get('condition') != cond:
        bad(f'compose: {s} must depend on {on} with condition {cond}')
dep('topics', 'kafka', 'service_healthy')
admin = {'ingest': 8080, 'processor': 9400, 'notifier-slack': 9401, 'notifier-opsgenie': 9402}
for s, port in admin.items():
    dep(s, 'topics', 'service_completed_successfully')
    hc = ' '.join(map(str, svc.get(s, {}).get('healthcheck', {}).get('test', [])))
    if '/healthz' not in hc or str(port) not in hc: bad(f'compose: {s} health check {hc!r} is not /healthz on {port}')
    e = env_of(s)
    addr = e.get('QALERT_INGEST_ADDR' if s == 'ingest' else 'QALERT_ADMIN_ADDR', '')
    if not addr.endswith(f':{port}'): bad(f'compose: {s} listens on {addr!r}, health check uses {port}')
dep('notifier-slack', 'slack-emulator', 'service_healthy')
dep('notifier-opsgenie', 'opsgenie-emulator', 'service_healthy')
for s, d in svc.items():
    for on, c in (d.get('depends_on') or {}).items():
        if c.get('condition') == 'service_healthy' and 'healthcheck' not in svc.get(on, {}):
            bad(f'compose: {s} waits for {on} to be healthy but {on} has no health check')
    for var, val in env_of(s).items():
        if is_secret_var(var) and not re.fullmatch(r'\$\{[A-Z0-9_]+:-[^}]*\}', val):
            bad(f'compose: {s} {var} is a literal; use ${{{var}:-demo...}}')
if '8080:8080' not in [str(p) for p in svc.get('ingest', {}).get('ports', [])]:
    bad('compose: ingest does not publish 8080')
if '/policy.json' not in ' '.join(svc.get('processor', {}).get('volumes', [])) or \
        not os.path.exists('tests/fixtures/policy.json'):
    bad('compose: processor does not mount tests/fixtures/policy.json')

# ---- topics created by deploy/compose/create-topics.sh ----
made = {}
for line in open(topics_txt):
    f = line.split()
    made[f[0]] = f[1:]
want_topics = ['genesys.events.raw', 'qalert.alerts', 'qalert.processor.state']
for sink in ('slack', 'opsgenie'):
    want_topics += [f'qalert.alerts.{sink}.retry.{n}' for n in (1, 2, 3)] + [f'qalert.alerts.{sink}.dlq']
for t in want_topics:
    if t not in made: bad(f'topics: {t} not created')
    elif made[t][0] != '3': bad(f'topics: {t} has {made[t][0]} partitions, want 3')
if 'cleanup.policy=compact' not in made.get('qalert.processor.state', []):
    bad('topics: qalert.processor.state is not compacted')
if set(made) - set(want_topics): bad(f'topics: unexpected {sorted(set(made) - set(want_topics))}')

# ---- Dockerfile ----
df = open('Dockerfile').read()
ts = open('scripts/test.sh').read()
m = re.search(r'^(cmake -S \. -B build -G Ninja[^>\n]*?)\s*(>|$)', ts, re.M)
if not m: bad('Dockerfile: no normal-build cmake command found in scripts/test.sh')
elif m.group(1).strip() not in df:
    bad(f'Dockerfile: does not configure with scripts/test.sh\'s "{m.group(1).strip()}"')
if 'ninja -C build qalert-ingest qalert-processor qalert-notifier qalert-replay' not in df:
    bad('Dockerfile: does not build the four binaries in build/')
stages = dict((b, a) for a, b in re.findall(r'^FROM\s+(\S+)\s+AS\s+(\S+)', df, re.M))
for st, img in (('build', 'debian:bookworm'), ('emulators', 'debian:bookworm-slim'), ('runtime', 'debian:bookworm-slim')):
    if stages.get(st) != img: bad(f'Dockerfile: stage {st} should be FROM {img}, is {stages.get(st)}')
if list(stages)[-1:] != ['runtime']: bad('Dockerfile: runtime must be the last stage (the default target)')
build_part = df.split(' AS emulators')[0]
runtime_part = df.split(' AS runtime')[-1]
# Each pkg-config module CMakeLists.txt requires → its Debian -dev and runtime package.
cm = open('CMakeLists.txt').read()
pkgs = {'rdkafka': ('librdkafka-dev', 'librdkafka1'), 'libmicrohttpd': ('libmicrohttpd-dev', 'libmicrohttpd12'),
        'avro-c': ('libavro-dev', 'libavro23'), 'libcurl': ('libcurl4-openssl-dev', 'libcurl4'),
        'libcrypto': ('libssl-dev', 'libssl3'), 'libcjson': ('libcjson-dev', 'libcjson1')}
for mod in re.findall(r'pkg_check_modules\(\w+ REQUIRED IMPORTED_TARGET (\S+)\)', cm):
    if mod not in pkgs: bad(f'Dockerfile: CMakeLists.txt requires {mod}, unknown to this test: add its packages'); continue
    dev, rt = pkgs[mod]
    if not re.search(rf'\b{re.escape(dev)}\b', build_part): bad(f'Dockerfile: build stage lacks {dev}')
    if not re.search(rf'\b{re.escape(rt)}\b', runtime_part): bad(f'Dockerfile: runtime stage lacks {rt}')
users = re.findall(r'^USER\s+(\S+)', runtime_part, re.M)
if not users or users[-1].split(':')[0] in ('0', 'root'): bad('Dockerfile: runtime runs as root')
for b in ('qalert-ingest', 'qalert-processor', 'qalert-notifier', 'qalert-replay'):
    if f'/src/build/bin/{b}' not in runtime_part: bad(f'Dockerfile: runtime does not copy {b}')
if 'qalert-healthcheck' not in runtime_part: bad('Dockerfile: runtime lacks the compose health-check helper')
di = open('.dockerignore').read().split()
for p in ('build', 'build-*', '.kafka'):
    if p not in di: bad(f'.dockerignore: {p} not excluded')

for f in failures: print('FAIL:', f)
sys.exit(1 if failures else 0)
EOF
"$py" "$tmp/check.py" "$k8s_mode" "$tmp/rendered.yaml" "$tmp/topics.txt" || fail=1

if [ "$fail" -ne 0 ]; then echo "test_deploy: FAILED"; exit 1; fi
echo "test_deploy: ok (kubernetes: base files${k8s_rendered:+ and the rendered example overlay})"
