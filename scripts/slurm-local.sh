#!/usr/bin/env bash
# A one-node Slurm 22.05 cluster on this machine, with accounting (slurmdbd + MariaDB), for the study
# executor's tests and for trying `trainkit-study --executor slurm` on a laptop or a VM.
#
#   sudo scripts/slurm-local.sh          # install when missing, configure, start, wait until usable
#   sudo scripts/slurm-local.sh status   # exit 0 when the cluster answers (sinfo idle, sacct answers)
#   sudo scripts/slurm-local.sh stop     # stop the daemons this script started
#
# Needs root and Debian/Ubuntu packages (slurmctld slurmd slurm-client slurmdbd mariadb-server munge);
# works without systemd. Idempotent: a second `start` with the same settings only checks.
#
# Settings (environment):
#   SLURM_LOCAL_STATE           state, spool, log and pid files (default /tmp/trainkit-slurm)
#   SLURM_LOCAL_MAX_ARRAY_SIZE  MaxArraySize (default 4, small so that tests see chunking; Slurm's
#                               own default is 1001)
#   SLURM_LOCAL_CPUS            CPUs the node declares (default 8, at least nproc; the jobs of the
#                               tests mostly sleep)
#   SLURM_LOCAL_INSTALL=0       never install packages (fail when they are missing)
set -euo pipefail

STATE=${SLURM_LOCAL_STATE:-/tmp/trainkit-slurm}
MAX_ARRAY_SIZE=${SLURM_LOCAL_MAX_ARRAY_SIZE:-4}
CLUSTER=trainkit
HOST=$(hostname -s)
NPROC=$(nproc)
CPUS=${SLURM_LOCAL_CPUS:-$((NPROC > 8 ? NPROC : 8))}
MEM_MIB=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2))
CONF=/etc/slurm
PACKAGES=(slurmctld slurmd slurm-client slurmdbd mariadb-server munge)

say() { echo "slurm-local: $*"; }
die() {
  echo "slurm-local: $*" >&2
  exit 1
}

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
  local limit=$1
  shift
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

pid_file() {
  case $1 in
  munged) echo /run/munge/munged.pid ;;
  mariadbd) echo /run/mysqld/mariadbd.pid ;;
  *) echo "$STATE/$1.pid" ;;
  esac
}

cluster_ready() {
  [[ $(sinfo -h -o %T 2>/dev/null | head -n 1) == idle* ]] && sacct -n -X -j 1 >/dev/null 2>&1
}

stop_pid() { # name pid
  kill "$2" 2>/dev/null || true
  wait_for 20 bash -c "! kill -0 $2 2>/dev/null" || say "$1 (pid $2) did not stop"
}

stop() {
  local name file
  for name in slurmd slurmctld slurmdbd mariadbd munged; do
    file=$(pid_file "$name")
    if pid_alive "$file"; then
      stop_pid "$name" "$(cat "$file")"
    fi
    rm -f "$file"
  done
  say "stopped"
}

install_packages() {
  local missing=()
  command -v slurmctld >/dev/null || missing+=(slurmctld)
  command -v slurmd >/dev/null || missing+=(slurmd)
  command -v sbatch >/dev/null || missing+=(slurm-client)
  command -v slurmdbd >/dev/null || missing+=(slurmdbd)
  command -v mariadbd >/dev/null || missing+=(mariadb-server)
  command -v munged >/dev/null || missing+=(munge)
  ((${#missing[@]} == 0)) && return 0
  [[ ${SLURM_LOCAL_INSTALL:-1} != 0 ]] || die "missing packages: ${missing[*]} (SLURM_LOCAL_INSTALL=0)"
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
  say "installing ${PACKAGES[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
}

# True when the kernel lets us create memory cgroups (v1): then task/cgroup gives real OUT_OF_MEMORY.
cgroup_v1_usable() {
  local probe=/sys/fs/cgroup/memory/trainkit-slurm-probe
  [[ -d /sys/fs/cgroup/memory ]] || return 1
  mkdir "$probe" 2>/dev/null || return 1
  rmdir "$probe"
}

write_if_changed() { # path mode owner < content
  local path=$1 mode=$2 owner=$3 content
  content=$(cat)
  if [[ ! -f $path ]] || [[ $(cat "$path") != "$content" ]]; then
    printf '%s\n' "$content" >"$path.tmp"
    chmod "$mode" "$path.tmp"
    chown "$owner" "$path.tmp"
    mv "$path.tmp" "$path"
    CHANGED=1
  fi
}

start() {
  local started=$SECONDS
  [[ $(id -u) == 0 ]] || die "run as root (it installs packages and starts daemons)"
  install_packages
  mkdir -p "$STATE"/{ctld,d,dbd} "$CONF"
  chown slurm:slurm "$STATE" "$STATE/ctld" "$STATE/dbd"
  CHANGED=0

  local task_plugin jobacct
  if cgroup_v1_usable; then
    task_plugin="ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup
JobAcctGatherType=jobacct_gather/cgroup"
    write_if_changed "$CONF/cgroup.conf" 644 root:root <<EOF
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainCores=no
ConstrainRAMSpace=yes
ConstrainSwapSpace=yes
AllowedSwapSpace=0
EOF
  else
    say "memory cgroups are not usable here: task/none, OOM shows as FAILED 0:9 (exceeded memory limit)"
    task_plugin="ProctrackType=proctrack/linuxproc
TaskPlugin=task/none"
    jobacct="JobAcctGatherType=jobacct_gather/linux
JobAcctGatherParams=OverMemoryKill
JobAcctGatherFrequency=1"
  fi

  write_if_changed "$CONF/slurm.conf" 644 root:root <<EOF
# Written by trainkit scripts/slurm-local.sh: a one-node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$HOST
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=400
$task_plugin
${jobacct:-}
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
MpiDefault=none
MaxArraySize=$MAX_ARRAY_SIZE
MinJobAge=30
KillWait=5
OverTimeLimit=0
SlurmdTimeout=20
ReturnToService=2
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MIB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

  # munge
  if [[ ! -s /etc/munge/munge.key ]]; then
    head -c 1024 /dev/urandom >/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  fi
  mkdir -p /run/munge
  chown munge:munge /run/munge
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        runuser -u munge -- munged --force --pid-file=/run/munge/munged.pid
    wait_for 10 bash -c 'munge -n | unmunge' || die "munged did not start"
  fi

  # MariaDB
  mkdir -p /run/mysqld
  chown mysql:mysql /run/mysqld
  if ! mariadb -e 'select 1' >/dev/null 2>&1; then
    [[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql >/dev/null
    setsid mariadbd --user=mysql --pid-file=/run/mysqld/mariadbd.pid >>"$STATE/mariadbd.log" 2>&1 </dev/null &
    wait_for 60 mariadb -e 'select 1' || die "MariaDB did not start (see $STATE/mariadbd.log)"
  fi
  local pass
  pass=$(sed -n 's/^StoragePass=//p' "$CONF/slurmdbd.conf" 2>/dev/null || true)
  [[ -n $pass ]] || pass=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pass';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"

  write_if_changed "$CONF/slurmdbd.conf" 600 slurm:slurm <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=slurm
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$pass
StorageLoc=slurm_acct_db
PidFile=$STATE/slurmdbd.pid
LogFile=$STATE/slurmdbd.log
EOF

  if ((CHANGED)); then
    say "configuration changed: (re)starting the Slurm daemons"
    local name
    for name in slurmd slurmctld slurmdbd; do
      if pid_alive "$STATE/$name.pid"; then
        stop_pid "$name" "$(cat "$STATE/$name.pid")"
      fi
    done
  fi

  if ! pid_alive "$STATE/slurmdbd.pid"; then
    slurmdbd
    wait_for 30 sacctmgr -n list cluster || die "slurmdbd did not answer (see $STATE/slurmdbd.log)"
  fi
  if [[ -z $(sacctmgr -n -P list cluster "$CLUSTER" format=cluster) ]]; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
  fi
  if ! pid_alive "$STATE/slurmctld.pid"; then
    slurmctld
    wait_for 30 scontrol ping || die "slurmctld did not answer (see $STATE/slurmctld.log)"
  fi
  if ! pid_alive "$STATE/slurmd.pid"; then
    slurmd
  fi
  if ! wait_for 60 cluster_ready; then
    scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
    wait_for 30 cluster_ready || die "the node did not become idle: $(sinfo -h -o '%T %E' 2>&1)"
  fi
  say "ready in $((SECONDS - started)) s: $(sinfo --version), node $HOST $(sinfo -h -o '%T'), MaxArraySize=$MAX_ARRAY_SIZE"
}

case ${1:-start} in
start) start ;;
stop) stop ;;
status) cluster_ready && say "ready" ;;
*) die "usage: $0 [start|stop|status]" ;;
esac
