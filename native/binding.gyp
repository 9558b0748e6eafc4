{
  "targets": [
    {
      "target_name": "l2lb_packet",
      "sources": ["src/packet.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
