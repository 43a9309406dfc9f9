// PASCAL VOC annotation XML through libxml2.
//
// VOC never needs a DTD: a document that declares entities (internal or
// parameter, parsed or not) is refused before any entity is expanded, since
// nested internal entities grow without bound when a text is read (a 160 KB
// file took 2 GB). External entities, the external DTD subset and XInclude are
// never loaded (no XML_PARSE_NOENT, XML_PARSE_DTDLOAD or XML_PARSE_XINCLUDE;
// XML_PARSE_NONET besides). Numbers follow docs/DATA.md "Bad data".
#include "data/data.h"
#include "data/records.h"

#include "base/common.h"
#include "base/fs.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

static xmlNode *child(xmlNode *n, const char *name) {
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0) return c;
    return NULL;
}

// Text of child `name`, stripped (malloc'ed, whole: never cut), or NULL when
// absent or empty.
static char *child_text(xmlNode *n, const char *name) {
    xmlNode *c = child(n, name);
    if (!c) return NULL;
    xmlChar *t = xmlNodeGetContent(c);
    if (!t) return NULL;
    char *s = dt_strip((char *)t);
    char *r = *s ? dt_strdup(s) : NULL;
    xmlFree(t);
    return r;
}

// 0; -1 absent or empty; -2 not a number; -3 not finite. The text goes to
// *text (malloc'ed) when given.
static int child_number(xmlNode *n, const char *name, double *v, char **text) {
    char *t = child_text(n, name);
    if (text) *text = NULL;
    if (!t) return -1;
    int r = dt_parse_number_all(t, v);
    if (text) *text = t;
    else free(t);
    return r == 0 ? 0 : r == -1 ? -2 : -3;
}

// SAX hooks: any entity declaration stops the parser before it is stored.
// (A thread-local flag: xmlCtxtReadFile resets the context's own fields.)
static __thread int declared_entity;

static void on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
                           const xmlChar *system_id, xmlChar *content) {
    declared_entity = 1;
    xmlStopParser((xmlParserCtxtPtr)ctx);
}

static void on_unparsed_entity_decl(void *ctx, const xmlChar *name, const xmlChar *public_id,
                                    const xmlChar *system_id, const xmlChar *notation) {
    on_entity_decl(ctx, name, 0, public_id, system_id, NULL);
}

static void warn_skip(dt_dataset *d, const char *xml_path, const char *why, const char *image) {
    dt_dataset_warn(d, "%s: malformed annotation: %s; image %s skipped", xml_path, why, image);
    d->n_skipped++;
}

int dt_read_voc_xml(dt_dataset *d, const char *xml_path, const char *image_path, int grow) {
    // The file is read here, so that libxml2 opens nothing itself.
    size_t len = 0;
    char *text = dt_read_file(xml_path, "annotation file", 0, &len);
    if (!text) {
        dt_dataset_warn(d, "%s; image %s skipped", dt_last_error(), image_path);
        d->n_skipped++;
        return -1;
    }
    if (len > (size_t)1 << 30) {
        free(text);
        dt_dataset_warn(d, "%s: annotation larger than 1 GiB; image %s skipped", xml_path,
                        image_path);
        d->n_skipped++;
        return -1;
    }
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) dt_fatal("out of memory (libxml2 parser context)");
    declared_entity = 0;
    ctxt->sax->entityDecl = on_entity_decl;
    ctxt->sax->unparsedEntityDecl = on_unparsed_entity_decl;
    xmlDoc *doc = xmlCtxtReadMemory(ctxt, text, (int)len, xml_path, NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    free(text);
    int declares_entity = declared_entity;
    if (declares_entity) {
        if (doc) xmlFreeDoc(doc);
        xmlFreeParserCtxt(ctxt);
        dt_dataset_warn(d, "%s: the document declares XML entities (<!ENTITY>), which VOC "
                        "annotations never use; refused, image %s skipped", xml_path, image_path);
        d->n_skipped++;
        return -1;
    }
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        dt_dataset_warn(d, "%s:%d: annotation is not well-formed XML (%s); image %s skipped",
                        xml_path, e && e->line > 0 ? e->line : 1,
                        e && e->message ? dt_strip(e->message) : "parse error", image_path);
        xmlFreeParserCtxt(ctxt);
        d->n_skipped++;
        return -1;
    }
    xmlFreeParserCtxt(ctxt);
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "annotation") != 0) {
        xmlFreeDoc(doc);
        warn_skip(d, xml_path, "root element is not <annotation>", image_path);
        return -1;
    }
    char whybuf[512];
    const char *why = NULL;
    int objn = 0;
    dt_sample *s = dt_dataset_push(d, image_path, xml_path, 0);
    // <size>: an integer width and height in 1..DT_MAX_SIDE; 0 or absent means
    // "not declared" (some tools write 0); anything else is warned about and
    // the image's own size is used.
    xmlNode *size = child(root, "size");
    if (size) {
        static const char *const sk[2] = {"width", "height"};
        int wh[2] = {0, 0}, bad = 0;
        for (int i = 0; i < 2; i++) {
            double v = 0;
            char *t = NULL;
            int r = child_number(size, sk[i], &v, &t);
            if (r == -1 || (r == 0 && v == 0)) bad |= 2; // not declared
            else if (r != 0 || dt_check_side(v, &wh[i]) != 0) {
                dt_dataset_warn(d, "%s: <size> <%s> '%s' is not an integer in 1..%d; the image's "
                                "own size is used", xml_path, sk[i], t ? t : "", DT_MAX_SIDE);
                bad |= 1;
            }
            free(t);
        }
        if (!bad) {
            s->width = wh[0];
            s->height = wh[1];
        }
    }
    for (xmlNode *o = root->children; o && !why; o = o->next) {
        if (o->type != XML_ELEMENT_NODE || strcmp((const char *)o->name, "object") != 0) continue;
        objn++;
        double v[4], diff = 0;
        static const char *const k[4] = {"xmin", "ymin", "xmax", "ymax"};
        xmlNode *bb = child(o, "bndbox");
        char *name = child_text(o, "name");
        if (!name) {
            snprintf(whybuf, sizeof whybuf, "object %d has no <name>", objn);
            why = whybuf;
            break;
        }
        if (!bb) {
            snprintf(whybuf, sizeof whybuf, "object %d (%s) has no <bndbox>", objn, name);
            why = whybuf;
        }
        for (int i = 0; i < 4 && !why; i++) {
            char *t = NULL;
            int r = child_number(bb, k[i], &v[i], &t);
            if (r != 0)
                snprintf(whybuf, sizeof whybuf, "object %d (%s): <%s> %s%.40s%s", objn, name, k[i],
                         r == -1 ? "is missing" : r == -2 ? "is not a number: '"
                                                          : "is not a finite number: '",
                         t ? t : "", r == -1 ? "" : "'");
            if (r != 0) why = whybuf;
            free(t);
        }
        int r = why ? 0 : child_number(o, "difficult", &diff, NULL);
        if (!why && r != 0 && r != -1) {
            snprintf(whybuf, sizeof whybuf, "object %d (%s): <difficult> is not a number", objn,
                     name);
            why = whybuf;
        }
        // VOC is 1-based inclusive: pixel xmin..xmax covers [xmin-1, xmax).
        dt_box_fit fit = why ? DT_BOX_INSIDE
                             : dt_box_check(v[0] - 1, v[1] - 1, v[2], v[3], s->width, s->height);
        if (!why && fit == DT_BOX_FAR) {
            if (s->width)
                snprintf(whybuf, sizeof whybuf, "object %d (%s): box xmin=%g ymin=%g xmax=%g "
                         "ymax=%g lies more than the image's size beyond the %dx%d image", objn,
                         name, v[0], v[1], v[2], v[3], s->width, s->height);
            else
                snprintf(whybuf, sizeof whybuf, "object %d (%s): box xmin=%g ymin=%g xmax=%g "
                         "ymax=%g has a coordinate beyond +-%d", objn, name, v[0], v[1], v[2],
                         v[3], DT_MAX_SIDE);
            why = whybuf;
        }
        if (why) {
            free(name);
            break;
        }
        int cls = dt_dataset_class(d, name, grow);
        if (cls < 0) {
            dt_dataset_warn(d, "%s: object %d: class '%s' is not in the names file; object dropped",
                            xml_path, objn, name);
        } else if (fit == DT_BOX_EMPTY) {
            dt_dataset_warn(d, "%s: object %d (%s): empty box xmin=%g ymin=%g xmax=%g ymax=%g; "
                            "object dropped", xml_path, objn, name, v[0], v[1], v[2], v[3]);
        } else if (fit == DT_BOX_OUTSIDE || fit == DT_BOX_PARTLY) {
            int gone = fit == DT_BOX_OUTSIDE;
            dt_dataset_warn(d, "%s: object %d (%s): box xmin=%g ymin=%g xmax=%g ymax=%g lies %s "
                            "the %dx%d image; %s", xml_path, objn, name, v[0], v[1], v[2], v[3],
                            gone ? "outside" : "partly outside", s->width, s->height,
                            gone ? "object dropped" : "clipped when loaded");
        }
        if (cls >= 0 && fit != DT_BOX_EMPTY && fit != DT_BOX_OUTSIDE) {
            dt_box b = {(float)v[0] - 1, (float)v[1] - 1, (float)v[2], (float)v[3]};
            dt_sample_add_object(s, b, cls, diff != 0);
        }
        free(name);
    }
    xmlFreeDoc(doc);
    if (why) {
        dt_dataset_pop(d);
        warn_skip(d, xml_path, why, image_path);
        return -1;
    }
    return 0;
}
