// l2lb_packet: an AF_PACKET socket bound to one interface and one EtherType.
//
// Only the system calls live here; every protocol decision (what to answer, the BPF program itself) is
// made in TypeScript. Receive is asynchronous without threads: the socket is non-blocking and watched by a
// uv_poll handle on Node's own loop; when readable, it is drained with recvfrom() until EAGAIN or
// MAX_FRAMES_PER_WAKE frames, whichever comes first, and each frame is handed to JavaScript as a fresh Buffer.
//
// Exports (all synchronous; errors are thrown as Node-style errors with code, errno, syscall):
//   open(ifname: string, protocol: number, onFrame: (err, frame) => void)
//       -> { handle: External, ifindex: number, mac: Buffer }
//   send(handle, frame: Buffer) -> number of bytes sent
//   setFilter(handle, program: Buffer)       // struct sock_filter[] bytes, built in TS
//   addMembership(handle, mac: Buffer), dropMembership(handle, mac: Buffer)
//   close(handle)                            // idempotent, safe from inside onFrame
//   ifindex(ifname: string) -> number        // if_nametoindex(); 0 when there is no such interface

#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <uv.h>

// Largest frame we take in one recvfrom(). Ethernet with a jumbo MTU fits; longer frames are truncated
// (the kernel reports their true length with MSG_TRUNC) and still delivered, which is harmless: nothing we
// parse is that long.
#define FRAME_BUF_SIZE 65536
// Frames handled per readable wake-up: the drain stops here even if more are queued. uv_poll is
// level-triggered, so a busy socket is simply polled again on the next loop turn instead of starving
// timers and other I/O (a flood of requests must not delay the Lease renewal).
#define MAX_FRAMES_PER_WAKE 256

typedef struct {
  napi_env env;
  int fd;
  int ifindex;
  uint16_t protocol;      // host order
  uv_poll_t poll;
  napi_ref on_frame;      // strong while open: the socket keeps its listener alive, as a net.Socket does
  napi_async_context async_ctx;
  int closing;            // close() called: stop delivering
  int handle_closed;      // uv_close callback ran: fd closed
  int finalized;          // the JS External was garbage collected
  unsigned char *buf;
} packet_sock_t;

// ---- errors --------------------------------------------------------------------------------------------

// Throws an Error shaped like Node's system errors: message "<syscall> <CODE>: <text>", with
// err.code = 'EPERM', err.errno = -1, err.syscall = 'socket'.
static void throw_errno(napi_env env, int err, const char *syscall) {
  const char *code = uv_err_name(-err);
  char msg[256];
  if (err == EPERM || err == EACCES) {
    snprintf(msg, sizeof msg, "%s %s: %s (the speaker needs CAP_NET_RAW to open an AF_PACKET socket)",
             syscall, code, uv_strerror(-err));
  } else {
    snprintf(msg, sizeof msg, "%s %s: %s", syscall, code, uv_strerror(-err));
  }
  napi_value js_code, js_msg, error, js_errno, js_syscall;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &js_msg);
  napi_create_error(env, js_code, js_msg, &error);
  napi_create_int32(env, -err, &js_errno);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &js_syscall);
  napi_set_named_property(env, error, "errno", js_errno);
  napi_set_named_property(env, error, "syscall", js_syscall);
  napi_throw(env, error);
}

static napi_value make_errno_value(napi_env env, int err, const char *syscall) {
  throw_errno(env, err, syscall);
  napi_value error;
  napi_get_and_clear_last_exception(env, &error);
  return error;
}

static void throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
}

// ---- argument helpers ----------------------------------------------------------------------------------

static packet_sock_t *get_sock(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) {
    throw_type(env, "handle must be the External returned by open()");
    return NULL;
  }
  void *p = NULL;
  napi_get_value_external(env, v, &p);
  return (packet_sock_t *)p;
}

static int get_buffer(napi_env env, napi_value v, void **data, size_t *len, const char *what) {
  bool is_buf = false;
  napi_is_buffer(env, v, &is_buf);
  if (!is_buf) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a Buffer", what);
    throw_type(env, msg);
    return -1;
  }
  napi_get_buffer_info(env, v, data, len);
  return 0;
}

static int check_open(napi_env env, packet_sock_t *s, const char *syscall) {
  if (s->closing) {
    throw_errno(env, EBADF, syscall);
    return -1;
  }
  return 0;
}

// The arguments of send, setFilter and the membership calls: (handle, buffer). Returns the open socket and
// the buffer's bytes, or NULL with a TypeError (bad arguments) or EBADF (closed) thrown.
static packet_sock_t *sock_and_buffer(napi_env env, napi_callback_info info, const char *usage,
                                      const char *syscall, const char *what, void **data, size_t *len) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) {
    throw_type(env, usage);
    return NULL;
  }
  packet_sock_t *s = get_sock(env, argv[0]);
  if (s == NULL || check_open(env, s, syscall) < 0) return NULL;
  if (get_buffer(env, argv[1], data, len, what) < 0) return NULL;
  return s;
}

// ---- lifetime ------------------------------------------------------------------------------------------

static void maybe_free(packet_sock_t *s) {
  if (s->handle_closed && s->finalized) {
    free(s->buf);
    free(s);
  }
}

static void on_handle_closed(uv_handle_t *h) {
  packet_sock_t *s = (packet_sock_t *)h->data;
  close(s->fd);
  s->fd = -1;
  s->handle_closed = 1;
  maybe_free(s);
}

// Stops delivery at once; the fd itself is closed in the uv_close callback, after libuv has stopped
// watching it, so a frame loop running right now (close() called from onFrame) still holds a valid fd.
static void begin_close(packet_sock_t *s) {
  if (s->closing) return;
  s->closing = 1;
  uv_poll_stop(&s->poll);
  if (s->on_frame != NULL) {
    napi_delete_reference(s->env, s->on_frame);
    s->on_frame = NULL;
  }
  // Safe even from inside onFrame: napi_make_callback has already taken what it needs from the context
  // (ids by value, the resource as a Local) before calling into JS, and the env is certainly alive here.
  if (s->async_ctx != NULL) {
    napi_async_destroy(s->env, s->async_ctx);
    s->async_ctx = NULL;
  }
  uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static void finalize_external(napi_env env, void *data, void *hint) {
  packet_sock_t *s = (packet_sock_t *)data;
  s->finalized = 1;
  // Reached only when the socket is already closed (an open socket holds a strong reference to its
  // listener, which holds the JS wrapper) or when the environment is being torn down.
  if (!s->closing) {
    s->closing = 1;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
    return;
  }
  maybe_free(s);
}

// ---- receive -------------------------------------------------------------------------------------------

static void deliver(packet_sock_t *s, napi_value err, napi_value frame) {
  napi_env env = s->env;
  napi_value cb, recv, argv[2], result;
  if (s->on_frame == NULL || napi_get_reference_value(env, s->on_frame, &cb) != napi_ok || cb == NULL) return;
  // napi_make_callback needs an object receiver (undefined fails with a TypeError); use the global.
  napi_get_global(env, &recv);
  argv[0] = err;
  argv[1] = frame;
  napi_make_callback(env, s->async_ctx, recv, cb, 2, argv, &result);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    // An exception thrown by the listener is the program's, not ours: report it as uncaught.
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  packet_sock_t *s = (packet_sock_t *)h->data;
  if (s->closing) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value undef;
  napi_get_undefined(env, &undef);

  if (status < 0) {
    // libuv reports POLLERR as UV_EBADF and stops the handle. On a packet socket POLLERR means a pending
    // socket error, e.g. ENETDOWN when the interface goes down (net/packet/af_packet.c, packet_notifier);
    // the kernel re-hooks the socket when the interface comes back up. So fetch (and clear) that error,
    // report it, and keep polling. Only an error we cannot explain stops delivery for good.
    int soerr = 0;
    socklen_t len = sizeof soerr;
    int rc = -1;
    if (status == UV_EBADF && getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr != 0) {
      rc = uv_poll_start(&s->poll, UV_READABLE, on_poll);
    }
    if (rc == 0) {
      deliver(s, make_errno_value(env, soerr, "recvfrom"), undef);
    } else {
      deliver(s, make_errno_value(env, -status, "uv_poll"), undef);
    }
    napi_close_handle_scope(env, scope);
    return;
  }

  for (int i = 0; i < MAX_FRAMES_PER_WAKE && !s->closing; i++) {
    struct sockaddr_ll from;
    socklen_t fromlen = sizeof from;
    ssize_t n = recvfrom(s->fd, s->buf, FRAME_BUF_SIZE, MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // e.g. ENETDOWN when the interface goes down; the kernel clears the socket error once read.
      deliver(s, make_errno_value(env, errno, "recvfrom"), undef);
      break;
    }
    // An AF_PACKET socket also sees the frames this host sends; ours included. Never hand those up.
    if (from.sll_pkttype == PACKET_OUTGOING) continue;
    size_t len = (size_t)n > FRAME_BUF_SIZE ? FRAME_BUF_SIZE : (size_t)n;
    napi_handle_scope inner;
    napi_open_handle_scope(env, &inner);
    napi_value frame;
    void *copy;
    if (napi_create_buffer_copy(env, len, s->buf, &copy, &frame) == napi_ok) {
      deliver(s, undef, frame);
    }
    napi_close_handle_scope(env, inner);
  }
  napi_close_handle_scope(env, scope);
}

// ---- exported functions --------------------------------------------------------------------------------

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) {
    throw_type(env, "open(ifname, protocol, onFrame) takes three arguments");
    return NULL;
  }
  char ifname[IFNAMSIZ];
  size_t namelen = 0;
  if (napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &namelen) != napi_ok) {
    throw_type(env, "ifname must be a string");
    return NULL;
  }
  if (namelen == 0 || namelen >= IFNAMSIZ - 1) {
    // napi truncates silently; a name that fills the buffer may have been cut, so refuse it.
    size_t full = 0;
    napi_get_value_string_utf8(env, argv[0], NULL, 0, &full);
    if (namelen == 0 || full >= IFNAMSIZ) {
      throw_errno(env, ENODEV, "if_nametoindex");
      return NULL;
    }
  }
  uint32_t protocol = 0;
  if (napi_get_value_uint32(env, argv[1], &protocol) != napi_ok || protocol > 0xffff) {
    throw_type(env, "protocol must be an EtherType (0..0xffff)");
    return NULL;
  }
  napi_valuetype cbt;
  napi_typeof(env, argv[2], &cbt);
  if (cbt != napi_function) {
    throw_type(env, "onFrame must be a function");
    return NULL;
  }

  // Resolve the name first: it needs no privilege, so a wrong name reads ENODEV even without CAP_NET_RAW.
  unsigned int ifindex = if_nametoindex(ifname);
  if (ifindex == 0) {
    throw_errno(env, errno != 0 ? errno : ENODEV, "if_nametoindex");
    return NULL;
  }
  // Created with protocol 0 so it receives nothing until bind() below sets both the EtherType and the
  // interface; a socket created with the EtherType would briefly see frames from every interface.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket");
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, ifname, namelen + 1);
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
    int e = errno;
    close(fd);
    throw_errno(env, e, "ioctl");
    return NULL;
  }
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons((uint16_t)protocol);
  sll.sll_ifindex = (int)ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    int e = errno;
    close(fd);
    throw_errno(env, e, "bind");
    return NULL;
  }

  packet_sock_t *s = calloc(1, sizeof *s);
  unsigned char *buf = malloc(FRAME_BUF_SIZE);
  if (s == NULL || buf == NULL) {
    free(s);
    free(buf);
    close(fd);
    throw_errno(env, ENOMEM, "malloc");
    return NULL;
  }
  s->env = env;
  s->fd = fd;
  s->ifindex = (int)ifindex;
  s->protocol = (uint16_t)protocol;
  s->buf = buf;

  uv_loop_t *loop = NULL;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_poll_init(loop, &s->poll, fd);
  if (rc < 0) {
    close(fd);
    free(buf);
    free(s);
    throw_errno(env, -rc, "uv_poll_init");
    return NULL;
  }
  s->poll.data = s;
  napi_value resource, resource_name;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "L2lbPacketSocket", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, resource, resource_name, &s->async_ctx);
  napi_create_reference(env, argv[2], 1, &s->on_frame);

  napi_value handle;
  if (napi_create_external(env, s, finalize_external, NULL, &handle) != napi_ok) {
    begin_close(s);
    s->finalized = 1;  // no External will ever finalize it
    return NULL;
  }
  rc = uv_poll_start(&s->poll, UV_READABLE, on_poll);
  if (rc < 0) {
    begin_close(s);
    throw_errno(env, -rc, "uv_poll_start");
    return NULL;
  }

  napi_value out, js_ifindex, js_mac;
  void *macdata;
  napi_create_object(env, &out);
  napi_create_uint32(env, ifindex, &js_ifindex);
  napi_create_buffer_copy(env, 6, ifr.ifr_hwaddr.sa_data, &macdata, &js_mac);
  napi_set_named_property(env, out, "handle", handle);
  napi_set_named_property(env, out, "ifindex", js_ifindex);
  napi_set_named_property(env, out, "mac", js_mac);
  return out;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  void *data;
  size_t len;
  packet_sock_t *s = sock_and_buffer(env, info, "send(handle, frame) takes two arguments", "sendto", "frame", &data, &len);
  if (s == NULL) return NULL;
  // With SOCK_RAW the frame carries its own link-layer header, so the address needs only the interface
  // and protocol (packet(7)); sll_addr is not read. Framing checks (a whole header) are index.ts's.
  struct sockaddr_ll to;
  memset(&to, 0, sizeof to);
  to.sll_family = AF_PACKET;
  to.sll_ifindex = s->ifindex;
  to.sll_protocol = htons(s->protocol);
  ssize_t n;
  do {
    n = sendto(s->fd, data, len, 0, (struct sockaddr *)&to, sizeof to);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    throw_errno(env, errno, "sendto");
    return NULL;
  }
  napi_value out;
  napi_create_uint32(env, (uint32_t)n, &out);
  return out;
}

static napi_value js_set_filter(napi_env env, napi_callback_info info) {
  void *data;
  size_t len;
  packet_sock_t *s = sock_and_buffer(env, info, "setFilter(handle, program) takes two arguments", "setsockopt", "program", &data, &len);
  if (s == NULL) return NULL;
  if (len == 0 || len % sizeof(struct sock_filter) != 0 || len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
    throw_errno(env, EINVAL, "setsockopt");
    return NULL;
  }
  struct sock_fprog prog;
  prog.len = (unsigned short)(len / sizeof(struct sock_filter));
  prog.filter = (struct sock_filter *)data;  // the kernel copies it during the call
  if (setsockopt(s->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
    throw_errno(env, errno, "setsockopt");
    return NULL;
  }
  return NULL;
}

static napi_value membership(napi_env env, napi_callback_info info, int opt) {
  void *data;
  size_t len;
  packet_sock_t *s = sock_and_buffer(env, info, "membership(handle, mac) takes two arguments", "setsockopt", "mac", &data, &len);
  if (s == NULL) return NULL;
  struct packet_mreq mr;
  // The kernel checks the length against the device's own address length (EINVAL otherwise), so the
  // only bound here is the size of the field.
  if (len == 0 || len > sizeof mr.mr_address) {
    throw_errno(env, EINVAL, "setsockopt");
    return NULL;
  }
  memset(&mr, 0, sizeof mr);
  mr.mr_ifindex = s->ifindex;
  mr.mr_type = PACKET_MR_MULTICAST;
  mr.mr_alen = (unsigned short)len;
  memcpy(mr.mr_address, data, len);
  if (setsockopt(s->fd, SOL_PACKET, opt, &mr, sizeof mr) < 0) {
    throw_errno(env, errno, "setsockopt");
    return NULL;
  }
  return NULL;
}

static napi_value js_add_membership(napi_env env, napi_callback_info info) {
  return membership(env, info, PACKET_ADD_MEMBERSHIP);
}

static napi_value js_drop_membership(napi_env env, napi_callback_info info) {
  return membership(env, info, PACKET_DROP_MEMBERSHIP);
}

// Lets the owner of a socket ask whether the interface it is bound to still exists under its name with
// the same index: a deleted interface unhooks the socket for good (net/packet/af_packet.c packet_notifier,
// NETDEV_UNREGISTER), and a re-created one has a new index that only a new socket binds to.
static napi_value js_ifindex(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char ifname[IFNAMSIZ];
  size_t namelen = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &namelen) != napi_ok) {
    throw_type(env, "ifindex(ifname) takes a string");
    return NULL;
  }
  napi_value out;
  napi_create_uint32(env, namelen == 0 ? 0 : if_nametoindex(ifname), &out);
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) {
    throw_type(env, "close(handle) takes one argument");
    return NULL;
  }
  packet_sock_t *s = get_sock(env, argv[0]);
  if (s == NULL) return NULL;
  begin_close(s);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setFilter", NULL, js_set_filter, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addMembership", NULL, js_add_membership, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dropMembership", NULL, js_drop_membership, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ifindex", NULL, js_ifindex, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
