// The generated params form (deferred/http/ui/formhtml.py) in the browser: reads it into a
// params object, fills it from one, shows the server's errors beside their fields, and adds
// and removes array rows. Plain ES2020, no libraries. It walks the rendered DOM, never a schema.
//
// window.deferredForms = {collect, fill, showError, clearErrors, FormError}; `root` is the
// top field element or any element holding it.
//
// collect(root) -> the params object. Empty values:
// - an optional field left empty is left out: a blank text or number box, a select on
//   "(not set)", an empty JSON box, an array with no rows, a multi-select with nothing chosen,
//   a nested object all of whose fields were left out;
// - an optional nested object left blank (nothing entered in any of its fields, no default
//   showing) is left out, even when some of its fields are required;
// - a required field left empty gives "" (a text box), [] (arrays, multi-selects) or {}
//   (objects); a required number, date, time, email, URL, select or JSON box is left out,
//   and the server names what is missing;
// - a ticked checkbox gives true; an unticked one false when it is required or ticked by
//   default, else it is left out; an array row always gives a value (null if blank);
// - a datetime-local box is read as UTC: "2024-05-01T12:00" gives "2024-05-01T12:00:00Z";
// - the root always gives an object.
// It throws a FormError (message naming the field, jsonPath saying where) for text in a
// number box, invalid JSON in a JSON box, and a root JSON box that is not an object.
//
// fill(root, value) sets the fields from a params object, adding and removing array rows; a
// field whose key is absent is emptied. It returns the JSON paths of the values the form
// cannot show (unknown keys, wrong types, choices not offered), so nothing is lost silently.
//
// showError(root, jsonPath, message) puts the message in the error slot of the field at
// jsonPath ("$", "$.count", "$.operands[0]", "$['key with space']"), or of its nearest
// ancestor field that exists, and returns that slot. clearErrors(root) empties every slot.
"use strict";

(function () {
  const FIELD = "[data-kind]";
  const IDENTIFIER = /^[a-zA-Z][a-zA-Z0-9_]*$/;  // jsonschema's json_path writes these as .key
  const MISSING = /'([^']*)' is a required property|missing required parameter '([^']*)'/;
  const UTC_DATE_TIME =
    /^(\d{4}-\d\d-\d\d)[Tt](\d\d:\d\d(?::\d\d(?:\.\d{1,3})?)?)(?:[Zz]|[+-]00:00)$/;
  let cloneCount = 0;

  class FormError extends Error {
    constructor(message, jsonPath) {
      super(message);
      this.name = "FormError";
      this.jsonPath = jsonPath;
    }
  }

  function rootField(root) {
    return root.matches(FIELD) ? root : root.querySelector(FIELD);
  }

  function controlOf(field) {
    return field.querySelector(":scope > [data-input]");
  }

  function childFields(field) {
    return Array.from(field.querySelectorAll(":scope > [data-kind]"));
  }

  function rowsOf(field) {
    const rows = field.querySelector(":scope > [data-rows]");
    return rows ? Array.from(rows.querySelectorAll(":scope > [data-row]")) : [];
  }

  function itemOf(row) {
    return row.querySelector(":scope > [data-kind]");
  }

  function isRequired(field) {
    return field.dataset.required === "true";
  }

  function isPlainObject(value) {
    return typeof value === "object" && value !== null && !Array.isArray(value);
  }

  function has(object, key) {
    return Object.prototype.hasOwnProperty.call(object, key);
  }

  function setKey(object, key, value) {
    // defineProperty, so a property named "__proto__" is a key and not the prototype
    Object.defineProperty(object, key,
                          {value, enumerable: true, writable: true, configurable: true});
  }

  function childPath(path, key) {
    if (typeof key === "number") return `${path}[${key}]`;
    if (IDENTIFIER.test(key)) return `${path}.${key}`;
    return `${path}['${key.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}']`;
  }

  function parsePath(path) {
    const keys = [];
    let rest = String(path).replace(/^\$/, "");
    const steps = [
      [/^\.([a-zA-Z][a-zA-Z0-9_]*)/, (m) => m[1]],
      [/^\[(\d+)\]/, (m) => Number(m[1])],
      [/^\['((?:[^'\\]|\\.)*)'\]/, (m) => m[1].replace(/\\(.)/g, "$1")],
    ];
    while (rest) {
      const step = steps.find(([pattern]) => pattern.test(rest));
      if (!step) break;
      const match = step[0].exec(rest);
      keys.push(step[1](match));
      rest = rest.slice(match[0].length);
    }
    return keys;
  }

  function childField(field, key) {
    const kind = field.dataset.kind;
    if (kind === "object" && typeof key === "string") {
      return childFields(field).find((child) => child.dataset.name === key) || null;
    }
    if (kind === "array" && typeof key === "number") {
      const row = rowsOf(field)[key];
      return row ? itemOf(row) : null;
    }
    return null;
  }

  // collect

  function collect(root) {
    const field = rootField(root);
    const value = field ? read(field, "$") : undefined;
    if (value === undefined) return {};
    if (!isPlainObject(value)) {
      throw new FormError(`${field.dataset.label}: the params must be a JSON object`, "$");
    }
    return value;
  }

  function read(field, path) {
    const kind = field.dataset.kind;
    if (kind === "object") return readObject(field, path);
    if (kind === "array") {
      const values = rowsOf(field).map((row, index) => {
        const value = read(itemOf(row), childPath(path, index));
        return value === undefined ? null : value;
      });
      return values.length || isRequired(field) ? values : undefined;
    }
    const input = controlOf(field);
    // An optional box left unticked (and not ticked by default) is left out, so the task's
    // own default applies; false is sent when it is required or was ticked by default.
    if (kind === "boolean") {
      return input.checked || isRequired(field) || input.defaultChecked ? input.checked
                                                                        : undefined;
    }
    if (kind === "multi_enum") {
      const values = Array.from(input.selectedOptions, (option) => JSON.parse(option.value));
      return values.length || isRequired(field) ? values : undefined;
    }
    if (kind === "enum") return input.value === "" ? undefined : JSON.parse(input.value);
    if (kind === "json") return readJson(field, input, path);
    if (kind === "integer" || kind === "number") return readNumber(field, input, path);
    return readString(field, input);
  }

  function readObject(field, path) {
    // An optional object left blank is left out, even when it has required fields: those
    // would give "" and the like, which the server would refuse for an object never filled.
    if (!isRequired(field) && field.dataset.name !== "" && isBlank(field)) return undefined;
    const result = {};
    for (const child of childFields(field)) {
      const name = child.dataset.name;
      const value = read(child, childPath(path, name));
      if (value !== undefined) setKey(result, name, value);
    }
    return Object.keys(result).length || isRequired(field) ? result : undefined;
  }

  // Whether nothing was entered in the field (or anything inside it) and no default shows.
  function isBlank(field) {
    const kind = field.dataset.kind;
    if (kind === "object") return childFields(field).every(isBlank);
    if (kind === "array") return rowsOf(field).length === 0;
    const input = controlOf(field);
    if (kind === "boolean") return !input.checked && !input.defaultChecked;
    if (kind === "multi_enum") return input.selectedOptions.length === 0;
    return (kind === "string" ? input.value : input.value.trim()) === "";
  }

  function readNumber(field, input, path) {
    const text = input.value.trim();
    const number = Number(text);
    if ((input.validity && input.validity.badInput) || (text && !Number.isFinite(number))) {
      throw new FormError(`${field.dataset.label}: not a number`, path);
    }
    return text === "" ? undefined : number;
  }

  function readString(field, input) {
    let text = input.value;
    if (input.type === "datetime-local" && text) {
      text = (/T\d\d:\d\d$/.test(text) ? text + ":00" : text) + "Z";
    }
    // "" can never be a date, a time, an email address or a URL: a required one left empty
    // is left out, so that the server says it is missing.
    return text === "" && (!isRequired(field) || input.type !== "text") ? undefined : text;
  }

  function readJson(field, input, path) {
    const text = input.value.trim();
    if (!text) return undefined;
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new FormError(`${field.dataset.label}: not valid JSON (${error.message})`, path);
    }
  }

  // fill

  function fill(root, value) {
    const field = rootField(root);
    const lost = [];
    if (field) write(field, value, "$", lost);
    return lost;
  }

  function write(field, value, path, lost) {
    const kind = field.dataset.kind;
    if (kind === "object") return writeObject(field, value, path, lost);
    if (kind === "array") return writeArray(field, value, path, lost);
    const input = controlOf(field);
    if (kind === "json") {
      input.value = value === undefined ? "" : JSON.stringify(value, null, 2);
    } else if (kind === "boolean") {
      input.checked = value === true;
      if (value !== undefined && typeof value !== "boolean") lost.push(path);
    } else if (kind === "enum") {
      writeSelect(input, value === undefined ? [] : [value], path, lost, false);
    } else if (kind === "multi_enum") {
      const isList = value === undefined || Array.isArray(value);
      if (!isList) lost.push(path);
      writeSelect(input, isList && value ? value : [], path, lost, true);
    } else {
      writeInput(field, input, value, path, lost);
    }
  }

  function writeObject(field, value, path, lost) {
    const known = value === undefined || isPlainObject(value);
    if (!known) lost.push(path);
    const object = known && value ? value : {};
    const names = new Set();
    for (const child of childFields(field)) {
      const name = child.dataset.name;
      names.add(name);
      write(child, has(object, name) ? object[name] : undefined, childPath(path, name), lost);
    }
    for (const key of Object.keys(object)) {
      if (!names.has(key)) lost.push(childPath(path, key));
    }
  }

  function writeArray(field, value, path, lost) {
    const known = value === undefined || Array.isArray(value);
    if (!known) lost.push(path);
    const values = known && value ? value : [];
    let rows = rowsOf(field);
    for (const extra of rows.slice(values.length)) extra.remove();
    for (let index = rows.length; index < values.length; index += 1) addRow(field);
    rows = rowsOf(field);
    values.forEach((item, index) => write(itemOf(rows[index]), item, childPath(path, index), lost));
  }

  function writeSelect(select, values, path, lost, multiple) {
    const wanted = values.map((value) => JSON.stringify(value));
    const found = new Set();
    for (const option of select.options) {
      const text = option.value === "" ? "" : JSON.stringify(JSON.parse(option.value));
      option.selected = text !== "" && wanted.includes(text);
      if (option.selected) found.add(text);
    }
    if (!multiple && !found.size) select.value = "";
    wanted.forEach((text, index) => {
      if (!found.has(text)) lost.push(multiple ? childPath(path, index) : path);
    });
  }

  function writeInput(field, input, value, path, lost) {
    const kind = field.dataset.kind;
    let text = "";
    if (value !== undefined) {
      const numeric = kind === "integer" || kind === "number";
      if (numeric && typeof value === "number" && Number.isFinite(value)) text = String(value);
      else if (!numeric && typeof value === "string") text = value;
      else text = null;
      if (text !== null && input.type === "datetime-local") text = localDateTime(text);
    }
    input.value = text === null ? "" : text;
    if (text === null || !isShown(input, text)) lost.push(path);
  }

  function isShown(input, text) {
    // The browser empties a value its input cannot hold, and writes times its own way
    // ("12:00:00" becomes "12:00"), so times are compared as instants.
    if (input.type !== "datetime-local" || !text) return input.value === text;
    return input.value !== "" && Date.parse(input.value + "Z") === Date.parse(text + "Z");
  }

  function localDateTime(text) {
    if (!/([Zz]|[+-]\d\d:\d\d)$/.test(text)) return null;  // no zone: no instant to show
    const utc = UTC_DATE_TIME.exec(text);
    if (utc) return `${utc[1]}T${utc[2]}`;
    const moment = new Date(text);
    if (Number.isNaN(moment.getTime())) return null;
    return moment.toISOString().slice(0, 23).replace(/\.000$/, "");
  }

  // errors

  function showError(root, jsonPath, message) {
    let field = rootField(root);
    if (!field) return null;
    for (const key of parsePath(jsonPath)) {
      const next = childField(field, key);
      if (!next) break;
      field = next;
    }
    const missing = MISSING.exec(message);
    if (missing) field = childField(field, missing[1] ?? missing[2]) || field;
    const slot = field.querySelector(":scope > [data-error-slot]");
    slot.textContent = message;
    slot.hidden = false;
    const input = controlOf(field);
    if (input) input.setAttribute("aria-invalid", "true");
    return slot;
  }

  function clearErrors(root) {
    for (const slot of root.querySelectorAll("[data-error-slot]")) {
      slot.textContent = "";
      slot.hidden = true;
    }
    for (const input of root.querySelectorAll("[data-input][aria-invalid]")) {
      input.removeAttribute("aria-invalid");
    }
  }

  // rows

  function addRow(field) {
    const template = field.querySelector(":scope > template[data-row-template]");
    const row = document.importNode(template.content.firstElementChild, true);
    // Ids inside the template repeat with each copy: one suffix per copy keeps them unique
    // and keeps every for / aria-describedby pointing inside the same row.
    const suffix = `-r${++cloneCount}`;
    for (const element of [row, ...row.querySelectorAll("[id], [for], [aria-describedby]")]) {
      if (element.id) element.id += suffix;
      for (const name of ["for", "aria-describedby"]) {
        const ids = element.getAttribute(name);
        if (!ids) continue;
        const renamed = ids.split(/\s+/).filter(Boolean).map((id) => id + suffix);
        element.setAttribute(name, renamed.join(" "));
      }
    }
    field.querySelector(":scope > [data-rows]").append(row);
    return row;
  }

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const button = target && target.closest("button[data-action]");
    const field = button && button.closest('[data-kind="array"]');
    if (!field) return;
    if (button.dataset.action === "add-row") {
      const row = addRow(field);
      (row.querySelector("[data-input]") || row.querySelector("button")).focus();
    } else if (button.dataset.action === "remove-row") {
      button.closest("[data-row]").remove();
      field.querySelector(":scope > [data-action='add-row']").focus();
    }
  });

  window.deferredForms = {collect, fill, showError, clearErrors, FormError};
})();
