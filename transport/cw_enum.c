/* SPDX-License-Identifier: MIT */
/* Listing serial ports. */
#include "cw_enum.h"

#include <libserialport.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cw_serial_list(cw_port_entry **out, size_t *count, cw_err *err)
{
    *out = NULL;
    *count = 0;
    struct sp_port **ports = NULL;
    if (sp_list_ports(&ports) != SP_OK) {
        char *m = sp_last_error_message();
        cw_err_set(err, CW_E_IO, "libserialport: %s", m ? m : "cannot list ports");
        sp_free_error_message(m);
        return CW_E_IO;
    }
    size_t n = 0;
    while (ports[n] != NULL)
        n++;
    cw_port_entry *v = calloc(n + 1, sizeof *v);
    if (v == NULL) {
        sp_free_port_list(ports);
        return cw_err_set(err, CW_E_NO_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct sp_port *p = ports[i];
        const char *s = sp_get_port_name(p);
        snprintf(v[i].path, sizeof v[i].path, "%s", s ? s : "");
        s = sp_get_port_description(p);
        snprintf(v[i].description, sizeof v[i].description, "%s", s ? s : "");
        int vid = 0, pid = 0;
        if (sp_get_port_transport(p) == SP_TRANSPORT_USB &&
            sp_get_port_usb_vid_pid(p, &vid, &pid) == SP_OK) {
            v[i].vid = (uint16_t)vid;
            v[i].pid = (uint16_t)pid;
            s = sp_get_port_usb_serial(p);
            snprintf(v[i].serial, sizeof v[i].serial, "%s", s ? s : "");
        }
    }
    sp_free_port_list(ports);
    *out = v;
    *count = n;
    return CW_OK;
}
