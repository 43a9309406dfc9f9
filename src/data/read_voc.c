// PASCAL VOC annotation XML through libxml2.
#include "data.h"
#include "reader.h"

#include "common.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

static xmlNode *child(xmlNode *n, const char *name) {
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0) return c;
    return NULL;
}

// Text of child `name` stripped into buf; 0, or -1 when absent or empty.
static int child_text(xmlNode *n, const char *name, char *buf, size_t len) {
    xmlNode *c = child(n, name);
    if (!c) return -1;
    xmlChar *t = xmlNodeGetContent(c);
    if (!t) return -1;
    snprintf(buf, len, "%s", (const char *)t);
    xmlFree(t);
    char *s = dt_strip(buf);
    memmove(buf, s, strlen(s) + 1);
    return buf[0] ? 0 : -1;
}

static int child_number(xmlNode *n, const char *name, double *v) {
    char buf[64];
    if (child_text(n, name, buf, sizeof buf) != 0) return -1;
    char *end;
    *v = strtod(buf, &end);
    return *end ? -2 : 0;
}

int dt_read_voc_xml(dt_dataset *d, const char *xml_path, const char *image_path, int grow) {
    xmlDoc *doc = xmlReadFile(xml_path, NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        if (e && e->line > 0)
            dt_dataset_warn(d, "%s:%d: annotation is not well-formed XML (%s); image %s skipped",
                            xml_path, e->line, e->message ? dt_strip(e->message) : "parse error",
                            image_path);
        else
            dt_dataset_warn(d, "%s: cannot read annotation (%s); image %s skipped", xml_path,
                            e && e->message ? dt_strip(e->message) : "missing or unreadable",
                            image_path);
        d->n_skipped++;
        return -1;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    const char *why = NULL;
    char whybuf[512];
    int objn = 0;
    if (!root || strcmp((const char *)root->name, "annotation") != 0) {
        why = "root element is not <annotation>";
    }
    dt_sample *s = NULL;
    if (!why) {
        s = dt_dataset_push(d, image_path, xml_path, 0);
        xmlNode *size = child(root, "size");
        double w = 0, h = 0;
        if (size && child_number(size, "width", &w) == 0 && child_number(size, "height", &h) == 0 &&
            w > 0 && h > 0) {
            s->width = (int)w;
            s->height = (int)h;
        }
        for (xmlNode *o = root->children; o && !why; o = o->next) {
            if (o->type != XML_ELEMENT_NODE || strcmp((const char *)o->name, "object") != 0)
                continue;
            objn++;
            char name[256];
            double v[4], diff = 0;
            static const char *const k[4] = {"xmin", "ymin", "xmax", "ymax"};
            xmlNode *bb = child(o, "bndbox");
            if (child_text(o, "name", name, sizeof name) != 0) {
                snprintf(whybuf, sizeof whybuf, "object %d has no <name>", objn);
                why = whybuf;
                break;
            }
            if (!bb) {
                snprintf(whybuf, sizeof whybuf, "object %d (%s) has no <bndbox>", objn, name);
                why = whybuf;
                break;
            }
            for (int i = 0; i < 4 && !why; i++) {
                int r = child_number(bb, k[i], &v[i]);
                if (r != 0) {
                    snprintf(whybuf, sizeof whybuf, "object %d (%s): <%s> is %s", objn, name, k[i],
                             r == -1 ? "missing" : "not a number");
                    why = whybuf;
                }
            }
            if (why) break;
            if (child_number(o, "difficult", &diff) == -2) diff = 0;
            int cls = dt_dataset_class(d, name, grow);
            if (cls < 0) {
                dt_dataset_warn(d, "%s: object %d: class '%s' is not in the names file; object dropped",
                                xml_path, objn, name);
                continue;
            }
            // VOC is 1-based inclusive: pixel xmin..xmax covers [xmin-1, xmax).
            dt_box b = {(float)v[0] - 1, (float)v[1] - 1, (float)v[2], (float)v[3]};
            if (b.x2 - b.x1 <= 0 || b.y2 - b.y1 <= 0) {
                dt_dataset_warn(d, "%s: object %d (%s): empty box xmin=%g ymin=%g xmax=%g ymax=%g; "
                                "object dropped", xml_path, objn, name, v[0], v[1], v[2], v[3]);
                continue;
            }
            if (s->width && (b.x1 < 0 || b.y1 < 0 || b.x2 > s->width || b.y2 > s->height)) {
                int gone = b.x1 >= s->width || b.y1 >= s->height || b.x2 <= 0 || b.y2 <= 0;
                dt_dataset_warn(d, "%s: object %d (%s): box xmin=%g ymin=%g xmax=%g ymax=%g lies %s "
                                "the %dx%d image; %s", xml_path, objn, name, v[0], v[1], v[2], v[3],
                                gone ? "outside" : "partly outside", s->width, s->height,
                                gone ? "object dropped" : "clipped when loaded");
                if (gone) continue;
            }
            dt_sample_add_object(s, b, cls, diff != 0);
        }
    }
    xmlFreeDoc(doc);
    if (why) {
        if (s) dt_dataset_pop(d);
        dt_dataset_warn(d, "%s: malformed annotation: %s; image %s skipped", xml_path, why,
                        image_path);
        d->n_skipped++;
        return -1;
    }
    return 0;
}
