// Modals (views.open / views.push / views.update) as a dialog: input blocks become form fields,
// their values become view.state.values keyed by block_id and action_id, as Slack sends them.

import { flatOptions, h, renderBlock, textHtml } from "./blocks.js";
import { plainText } from "./mrkdwn.js";

const REQUIRED = "Please complete this required field.";

let uid = 0;

function ids(block, index) {
  return { blockId: block.block_id ?? `b${index}`, actionId: block.element?.action_id ?? `a${index}` };
}

function field(block, index) {
  const { blockId, actionId } = ids(block, index);
  const el = block.element ?? {};
  const id = `in-${++uid}`;
  let control;
  switch (el.type) {
    case "static_select": {
      control = h("select", { id, class: "bk-input bk-input--select" });
      control.append(h("option", { value: "" }, el.placeholder?.text ?? "Select an item"));
      for (const o of flatOptions(el)) {
        control.append(h("option", { value: o.value, selected: el.initial_option?.value === o.value }, o.text?.text ?? o.value));
      }
      break;
    }
    case "radio_buttons":
    case "checkboxes": {
      const kind = el.type === "radio_buttons" ? "radio" : "checkbox";
      const initial = new Set(
        (el.type === "radio_buttons" ? [el.initial_option] : el.initial_options ?? []).filter(Boolean).map((o) => o.value),
      );
      control = h(
        "div",
        { id, class: `bk-choices bk-choices--${kind}`, role: kind === "radio" ? "radiogroup" : "group" },
        (el.options ?? []).map((o) =>
          h(
            "label",
            { class: "bk-choice" },
            h("input", { type: kind, name: id, value: o.value, checked: initial.has(o.value) }),
            h("span", { html: textHtml(o.text) }),
          ),
        ),
      );
      break;
    }
    case "number_input":
      control = h("input", {
        id,
        class: "bk-input",
        type: "text",
        inputmode: el.is_decimal_allowed ? "decimal" : "numeric",
        placeholder: el.placeholder?.text,
        value: el.initial_value,
        autocomplete: "off",
      });
      break;
    case "plain_text_input":
      control = el.multiline
        ? h("textarea", { id, class: "bk-input bk-input--multiline", rows: 4, placeholder: el.placeholder?.text })
        : h("input", { id, class: "bk-input", type: "text", placeholder: el.placeholder?.text, autocomplete: "off" });
      if (el.initial_value) control.value = el.initial_value;
      break;
    case "datepicker":
      control = h("input", { id, class: "bk-input", type: "date", value: el.initial_date });
      break;
    default:
      control = h("div", { class: "bk-unsupported" }, `Unsupported input: ${el.type}`);
  }
  return h(
    "div",
    { class: "input-block", dataset: { blockId, actionId, type: el.type ?? "" } },
    h(
      "label",
      { class: "input-label", for: id },
      h("span", { html: plainText(block.label?.text ?? "") }),
      block.optional ? h("span", { class: "optional" }, " (optional)") : null,
    ),
    control,
    h("div", { class: "input-error", role: "alert", hidden: true }),
    block.hint ? h("div", { class: "input-hint", html: textHtml(block.hint) }) : null,
  );
}

function option(el, value) {
  const o = flatOptions(el).find((x) => x.value === value);
  return o ? { text: o.text, value: o.value } : null;
}

/** view.state.values plus the errors Slack's client would show before sending anything. */
export function collect(view, root) {
  const values = {};
  const errors = {};
  (view.blocks ?? []).forEach((block, index) => {
    if (block.type !== "input") return;
    const { blockId, actionId } = ids(block, index);
    const el = block.element ?? {};
    const node = root.querySelector(`.input-block[data-block-id="${CSS.escape(blockId)}"]`);
    if (!node) return;
    const state = { type: el.type };
    let empty = true;
    if (el.type === "static_select") {
      const v = node.querySelector("select").value;
      state.selected_option = v ? option(el, v) : null;
      empty = !v;
    } else if (el.type === "radio_buttons") {
      const v = node.querySelector("input:checked")?.value;
      state.selected_option = v ? option(el, v) : null;
      empty = !v;
    } else if (el.type === "checkboxes") {
      state.selected_options = [...node.querySelectorAll("input:checked")].map((i) => option(el, i.value));
      empty = state.selected_options.length === 0;
    } else if (el.type === "datepicker") {
      state.selected_date = node.querySelector("input").value || null;
      empty = !state.selected_date;
    } else if (el.type === "number_input" || el.type === "plain_text_input") {
      const raw = node.querySelector("input, textarea").value.trim();
      state.value = raw || null;
      empty = !raw;
      if (!empty && el.type === "number_input") {
        const problem = numberProblem(raw, el);
        if (problem) errors[blockId] = problem;
      }
      if (!empty && el.type === "plain_text_input") {
        if (el.min_length && raw.length < el.min_length) errors[blockId] = `Please enter at least ${el.min_length} characters.`;
        if (el.max_length && raw.length > el.max_length) errors[blockId] = `Please enter no more than ${el.max_length} characters.`;
      }
    }
    if (empty && !block.optional) errors[blockId] = REQUIRED;
    values[blockId] = { [actionId]: state };
  });
  return { values, errors };
}

function numberProblem(raw, el) {
  if (!/^-?\d+(\.\d+)?$/.test(raw)) return "Please enter a number.";
  if (!el.is_decimal_allowed && raw.includes(".")) return "Please enter a whole number.";
  const n = Number(raw);
  const min = el.min_value !== undefined ? Number(el.min_value) : null;
  const max = el.max_value !== undefined ? Number(el.max_value) : null;
  if ((min !== null && n < min) || (max !== null && n > max)) {
    return `Please enter a number${min !== null ? ` of at least ${min}` : ""}${max !== null ? `${min !== null ? " and" : ""} no more than ${max}` : ""}.`;
  }
  return null;
}

/** Show errors ({block_id: message}) under their fields; clears the others. */
export function showErrors(root, errors = {}) {
  for (const node of root.querySelectorAll(".input-block")) {
    const message = errors[node.dataset.blockId];
    const box = node.querySelector(".input-error");
    box.textContent = message ?? "";
    box.hidden = !message;
    node.classList.toggle("has-error", Boolean(message));
  }
  const first = root.querySelector(".input-block.has-error input, .input-block.has-error select");
  first?.focus();
}

export function showProblem(root, problem) {
  const box = root.querySelector(".modal-problem");
  box.textContent = problem ?? "";
  box.hidden = !problem;
}

/**
 * The dialog for a view. handlers: onSubmit(values), onClose(), onAction(action, el, values).
 * Returns the overlay element (append it to the page).
 */
export function renderModal(view, handlers, ctx) {
  const title = view.title?.text ?? "";
  const form = h("form", { class: "modal-body", novalidate: true });
  const stack = handlers.depth > 1 ? h("span", { class: "modal-depth" }, `${handlers.depth}`) : null;
  const blockCtx = {
    ...ctx,
    onAction: (action, el) => handlers.onAction(action, el, collect(view, form).values),
  };
  (view.blocks ?? []).forEach((block, index) => {
    form.append(block.type === "input" ? field(block, index) : renderBlock(block, index, blockCtx));
  });
  const close = h("button", { type: "button", class: "btn btn-secondary modal-close" }, view.close?.text ?? (view.submit ? "Cancel" : "Close"));
  const submit = view.submit ? h("button", { type: "submit", class: "btn btn-primary modal-submit" }, view.submit.text) : null;
  const dialog = h(
    "div",
    { class: "modal", role: "dialog", "aria-modal": "true", "aria-label": title, dataset: { viewId: view.id, callbackId: view.callback_id ?? "" } },
    h(
      "header",
      { class: "modal-head" },
      h("span", { class: "modal-app" }, "🛟"),
      h("h2", { class: "modal-title", html: plainText(title) }),
      stack,
      h("button", { type: "button", class: "modal-x", "aria-label": "Close", onclick: () => handlers.onClose() }, "×"),
    ),
    h("div", { class: "modal-problem", role: "alert", hidden: true }),
    form,
    h("footer", { class: "modal-foot" }, close, submit),
  );
  close.addEventListener("click", () => handlers.onClose());
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!submit || submit.disabled) return;
    const { values, errors } = collect(view, form);
    if (Object.keys(errors).length) {
      showErrors(dialog, errors);
      return;
    }
    showErrors(dialog, {});
    showProblem(dialog, null);
    handlers.onSubmit(values, submit);
  });
  submit?.addEventListener("click", (e) => {
    e.preventDefault();
    form.requestSubmit();
  });
  const overlay = h("div", { class: "overlay" }, dialog);
  overlay.addEventListener("keydown", (e) => {
    if (e.key === "Escape") handlers.onClose();
  });
  return overlay;
}
